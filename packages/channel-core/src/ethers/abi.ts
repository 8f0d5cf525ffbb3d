/**
 * The external ABI of Nitro Gen-2's NitroAdjudicator (the part Sluice uses), identical to
 * go-nitro's and to `@sluice/contracts`' artifact (a test checks selectors and topics), plus
 * the ERC20 calls a deposit needs. Kept here so channel-core does not depend on artifacts.
 */

const EXIT = 'tuple(address asset, tuple(uint8 assetType, bytes metadata) assetMetadata, tuple(bytes32 destination, uint256 amount, uint8 allocationType, bytes metadata)[] allocations)';
const FIXED = 'tuple(address[] participants, uint64 channelNonce, address appDefinition, uint48 challengeDuration)';
const VARIABLE = `tuple(${EXIT}[] outcome, bytes appData, uint48 turnNum, bool isFinal)`;
const SIG = 'tuple(uint8 v, bytes32 r, bytes32 s)';
const SVP = `tuple(${VARIABLE} variablePart, ${SIG}[] sigs)`;
const RECLAIM = 'tuple(bytes32 sourceChannelId, bytes32 sourceStateHash, bytes sourceOutcomeBytes, uint256 sourceAssetIndex, uint256 indexOfTargetInSource, bytes32 targetStateHash, bytes targetOutcomeBytes, uint256 targetAssetIndex)';

export const ADJUDICATOR_ABI: readonly string[] = [
  'function deposit(address asset, bytes32 channelId, uint256 expectedHeld, uint256 amount) payable',
  'function holdings(address, bytes32) view returns (uint256)',
  'function statusOf(bytes32) view returns (bytes32)',
  'function unpackStatus(bytes32 channelId) view returns (uint48 turnNumRecord, uint48 finalizesAt, uint160 fingerprint)',
  `function challenge(${FIXED} fixedPart, ${SVP}[] proof, ${SVP} candidate, ${SIG} challengerSig)`,
  `function checkpoint(${FIXED} fixedPart, ${SVP}[] proof, ${SVP} candidate)`,
  `function conclude(${FIXED} fixedPart, ${SVP} candidate)`,
  `function concludeAndTransferAllAssets(${FIXED} fixedPart, ${SVP} candidate)`,
  `function transferAllAssets(bytes32 channelId, ${EXIT}[] outcome, bytes32 stateHash)`,
  'function transfer(uint256 assetIndex, bytes32 fromChannelId, bytes outcomeBytes, bytes32 stateHash, uint256[] indices)',
  `function reclaim(${RECLAIM} args)`,
  `function stateIsSupported(${FIXED} fixedPart, ${SVP}[] proof, ${SVP} candidate) view returns (bool, string)`,
  'event Deposited(bytes32 indexed destination, address asset, uint256 destinationHoldings)',
  'event AllocationUpdated(bytes32 indexed channelId, uint256 assetIndex, uint256 initialHoldings, uint256 finalHoldings)',
  `event ChallengeRegistered(bytes32 indexed channelId, uint48 finalizesAt, ${SVP}[] proof, ${SVP} candidate)`,
  'event ChallengeCleared(bytes32 indexed channelId, uint48 newTurnNumRecord)',
  'event Checkpointed(bytes32 indexed channelId, uint48 newTurnNumRecord)',
  'event Concluded(bytes32 indexed channelId, uint48 finalizesAt)',
  'event Reclaimed(bytes32 indexed channelId, uint256 assetIndex)',
];

export const ERC20_ABI: readonly string[] = [
  'function approve(address spender, uint256 amount) returns (bool)',
  'function allowance(address owner, address spender) view returns (uint256)',
  'function balanceOf(address owner) view returns (uint256)',
  'error ERC20InsufficientAllowance(address spender, uint256 allowance, uint256 needed)',
  'error ERC20InsufficientBalance(address sender, uint256 balance, uint256 needed)',
];

/** The adjudicator events the stream decodes. */
export const ADJUDICATOR_EVENTS = [
  'Deposited',
  'AllocationUpdated',
  'ChallengeRegistered',
  'ChallengeCleared',
  'Checkpointed',
  'Concluded',
  'Reclaimed',
] as const;
