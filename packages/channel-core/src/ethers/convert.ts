/**
 * The one place where channel-core values become the adjudicator's struct shapes
 * (FixedPart, VariablePart, SignedVariablePart with `sigs` as `{ v, r, s }`) and where
 * decoded logs become {@link ChainEvent}s.
 */
import type { Interface, Log, Result } from 'ethers';
import type { Address, Bytes32, ChannelId, Hex } from '../hex.ts';
import type { AllocationType, Outcome } from '../outcome.ts';
import type { FixedPart, VariablePart } from '../state.ts';
import type { ChainEvent, SignedState, SignedVariablePart } from '../chain.ts';
import { assertFixedPart, assertVariablePart, fixedPartOf, getChannelId } from '../state.ts';
import { assertOutcome } from '../outcome.ts';
import { type Signature, assertSignature, signatureFromVRS, signatureToVRS } from '../signature.ts';
import { parseAddress } from '../address.ts';
import { hexToBytes, parseBytes32 } from '../hex.ts';
import { SluiceError } from '../errors.ts';

export interface FixedPartStruct {
  participants: string[];
  channelNonce: bigint;
  appDefinition: string;
  challengeDuration: number;
}
export interface AllocationStruct {
  destination: string;
  amount: bigint;
  allocationType: number;
  metadata: string;
}
export interface ExitStruct {
  asset: string;
  assetMetadata: { assetType: number; metadata: string };
  allocations: AllocationStruct[];
}
export interface VariablePartStruct {
  outcome: ExitStruct[];
  appData: string;
  turnNum: number;
  isFinal: boolean;
}
export interface SigStruct {
  v: number;
  r: string;
  s: string;
}
export interface SignedVariablePartStruct {
  variablePart: VariablePartStruct;
  sigs: SigStruct[];
}

function invalid(e: unknown, what: string): SluiceError {
  return new SluiceError('INVALID_ARGUMENT', `${what}: ${e instanceof Error ? e.message : 'invalid'}`, { cause: e });
}

export function toFixedPartStruct(f: FixedPart): FixedPartStruct {
  try {
    assertFixedPart(f);
  } catch (e) {
    throw invalid(e, 'fixedPart');
  }
  return {
    participants: [...f.participants],
    channelNonce: f.channelNonce,
    appDefinition: f.appDefinition,
    challengeDuration: f.challengeDuration,
  };
}

export function toOutcomeStruct(o: Outcome): ExitStruct[] {
  try {
    assertOutcome(o);
  } catch (e) {
    throw invalid(e, 'outcome');
  }
  return o.map((e) => ({
    asset: e.asset,
    assetMetadata: { assetType: e.assetMetadata.assetType, metadata: e.assetMetadata.metadata },
    allocations: e.allocations.map((a) => ({
      destination: a.destination,
      amount: a.amount,
      allocationType: a.allocationType,
      metadata: a.metadata,
    })),
  }));
}

export function toVariablePartStruct(v: VariablePart): VariablePartStruct {
  try {
    assertVariablePart(v);
  } catch (e) {
    throw invalid(e, 'variablePart');
  }
  return { outcome: toOutcomeStruct(v.outcome), appData: v.appData, turnNum: v.turnNum, isFinal: v.isFinal };
}

export function toSigStruct(sig: Signature): SigStruct {
  try {
    assertSignature(sig);
  } catch (e) {
    throw invalid(e, 'signature');
  }
  const { v, r, s } = signatureToVRS(sig);
  return { v, r, s };
}

export function toSignedVariablePartStruct(s: SignedState): SignedVariablePartStruct {
  return { variablePart: toVariablePartStruct(s.state), sigs: s.signatures.map(toSigStruct) };
}

/**
 * The `(fixedPart, proof[], candidate)` arguments of challenge/checkpoint/conclude.
 * @throws SluiceError INVALID_ARGUMENT if a proof state belongs to another channel
 */
export function toSupportArgs(
  proof: readonly SignedState[],
  candidate: SignedState,
): { fixedPart: FixedPartStruct; proof: SignedVariablePartStruct[]; candidate: SignedVariablePartStruct; channelId: ChannelId } {
  const fixedPart = toFixedPartStruct(fixedPartOf(candidate.state));
  const channelId = getChannelId(candidate.state);
  proof.forEach((p, i) => {
    if (getChannelId(p.state) !== channelId) throw new SluiceError('INVALID_ARGUMENT', `proof[${i}] is a state of another channel`);
  });
  return { fixedPart, proof: proof.map(toSignedVariablePartStruct), candidate: toSignedVariablePartStruct(candidate), channelId };
}

// ---------------------------------------------------------------- decoding

function num(x: unknown): number {
  return Number(x as bigint);
}

function decodeOutcome(r: Result): Outcome {
  return [...r].map((e) => {
    const [asset, meta, allocations] = e as unknown as [string, Result, Result];
    return {
      asset: parseAddress(asset, 'asset'),
      assetMetadata: { assetType: num(meta[0]), metadata: (meta[1] as string).toLowerCase() as Hex },
      allocations: [...allocations].map((a) => {
        const [destination, amount, allocationType, metadata] = a as unknown as [string, bigint, bigint, string];
        return {
          destination: parseBytes32(destination, 'destination'),
          amount,
          allocationType: num(allocationType) as AllocationType,
          metadata: metadata.toLowerCase() as Hex,
        };
      }),
    };
  });
}

/**
 * Signatures in events are as posted: the adjudicator's ecrecover accepts high-s and odd v,
 * so they are not validated here (a hostile challenger must not break the stream).
 */
function rawSignature(v: bigint, r: string, s: string): Signature {
  try {
    return signatureFromVRS({ v, r, s });
  } catch {
    const out = new Uint8Array(65);
    out.set(hexToBytes(r), 0);
    out.set(hexToBytes(s), 32);
    out[64] = Number(v & 0xffn);
    return out as Signature;
  }
}

function decodeSvp(r: Result): SignedVariablePart {
  const [vp, sigs] = r as unknown as [Result, Result];
  const [outcome, appData, turnNum, isFinal] = vp as unknown as [Result, string, bigint, boolean];
  return {
    variablePart: { outcome: decodeOutcome(outcome), appData: appData.toLowerCase() as Hex, turnNum: num(turnNum), isFinal },
    signatures: [...sigs].map((s) => {
      const [v, rr, ss] = s as unknown as [bigint, string, string];
      return rawSignature(v, rr, ss);
    }),
  };
}

/**
 * Decode one adjudicator log into a {@link ChainEvent}, or `undefined` if it is not one of ours.
 */
export function decodeAdjudicatorLog(iface: Interface, log: Log): ChainEvent | undefined {
  let parsed;
  try {
    parsed = iface.parseLog({ topics: [...log.topics], data: log.data });
  } catch {
    return undefined;
  }
  if (!parsed) return undefined;
  const base = { blockNumber: log.blockNumber, logIndex: log.index, txHash: log.transactionHash.toLowerCase() as Hex };
  const a = parsed.args;
  const id = (x: unknown): ChannelId => parseBytes32(x, 'channelId');
  switch (parsed.name) {
    case 'Deposited':
      return { type: 'Deposited', ...base, destination: parseBytes32(a[0], 'destination') as Bytes32, asset: parseAddress(a[1], 'asset') as Address, destinationHoldings: a[2] as bigint };
    case 'AllocationUpdated':
      return { type: 'AllocationUpdated', ...base, channelId: id(a[0]), assetIndex: a[1] as bigint, initialHoldings: a[2] as bigint, finalHoldings: a[3] as bigint };
    case 'ChallengeRegistered':
      return {
        type: 'ChallengeRegistered',
        ...base,
        channelId: id(a[0]),
        finalizesAt: num(a[1]),
        proof: [...(a[2] as Result)].map((p) => decodeSvp(p as Result)),
        candidate: decodeSvp(a[3] as Result),
      };
    case 'ChallengeCleared':
      return { type: 'ChallengeCleared', ...base, channelId: id(a[0]), newTurnNumRecord: num(a[1]) };
    case 'Checkpointed':
      return { type: 'Checkpointed', ...base, channelId: id(a[0]), newTurnNumRecord: num(a[1]) };
    case 'Concluded':
      return { type: 'Concluded', ...base, channelId: id(a[0]), finalizesAt: num(a[1]) };
    case 'Reclaimed':
      return { type: 'Reclaimed', ...base, channelId: id(a[0]), assetIndex: a[1] as bigint };
    default:
      return undefined;
  }
}

/**
 * The candidate a `checkpoint(fixedPart, proof, candidate)` call registered on `channelId`, read
 * from the call's calldata; `undefined` when `data` is not such a call, is for another channel or
 * registers another turn, or does not decode. The signatures are not verified here.
 */
export function decodeCheckpointCall(iface: Interface, data: string, channelId: ChannelId, turnNum: number): SignedVariablePart | undefined {
  try {
    const tx = iface.parseTransaction({ data });
    if (tx?.name !== 'checkpoint') return undefined;
    const [participants, channelNonce, appDefinition, challengeDuration] = tx.args[0] as unknown as [Result, bigint, string, bigint];
    const fixedPart: FixedPart = {
      participants: [...participants].map((p) => parseAddress(p, 'participant') as Address),
      channelNonce,
      appDefinition: parseAddress(appDefinition, 'appDefinition') as Address,
      challengeDuration: num(challengeDuration),
    };
    if (getChannelId(fixedPart).toLowerCase() !== channelId.toLowerCase()) return undefined;
    const candidate = decodeSvp(tx.args[2] as Result);
    return candidate.variablePart.turnNum === turnNum ? candidate : undefined;
  } catch {
    return undefined;
  }
}
