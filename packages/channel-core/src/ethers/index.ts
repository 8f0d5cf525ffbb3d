/**
 * @sluice/channel-core/ethers — the chain adapter over ethers v6: {@link EthersChainService}
 * (implements the {@link ChainService} port), deployment helpers, struct conversion and
 * revert decoding. The only part of channel-core that talks to providers.
 */
export { EthersChainService, type EthersChainServiceInit } from './service.ts';
export { deployContract, deployNitro, type DeployableArtifact, type DeployOptions, type NitroArtifacts, type NitroDeployment } from './deploy.ts';
export { ADJUDICATOR_ABI, ADJUDICATOR_EVENTS, ERC20_ABI } from './abi.ts';
export {
  decodeAdjudicatorLog,
  toFixedPartStruct,
  toOutcomeStruct,
  toSigStruct,
  toSignedVariablePartStruct,
  toSupportArgs,
  toVariablePartStruct,
  type ExitStruct,
  type FixedPartStruct,
  type SigStruct,
  type SignedVariablePartStruct,
  type VariablePartStruct,
} from './convert.ts';
export { decodeRevertData, toChainError, type RevertInfo } from './errors.ts';
export type * from '../chain.ts';
export { ZERO_BYTES32, channelMode, consumeChainEvents, unpackStatus } from '../chain.ts';
