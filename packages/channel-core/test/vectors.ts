/**
 * Typed loader for ../shared/vectors/nitro-gen2.json (produced with the published
 * `@statechannels/nitro-protocol@2.0.1-alpha.6` helpers from fixed keys; see shared/README.md).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { Address, Bytes32, FixedPart, Hex, Outcome, AllocationType } from '../src/index.ts';

export const VECTORS_PATH = fileURLToPath(new URL('../../../../shared/vectors/nitro-gen2.json', import.meta.url));

interface RawAllocation { destination: string; amount: string; allocationType: number; metadata: string }
interface RawExit { asset: string; assetMetadata: { assetType: number; metadata: string }; allocations: RawAllocation[] }
interface RawSig { r: string; s: string; v: number; recoveryParam: number; compact: string }
interface Raw {
  actors: Record<'alice' | 'irene' | 'bob', { privateKey: string; address: string }>;
  apps: Record<string, string>;
  fixedParts: Record<string, { participants: string[]; channelNonce: string; appDefinition: string; challengeDuration: number }>;
  channelIds: Record<string, string>;
  outcomes: Record<string, { outcome: RawExit[]; encoded: string; hash: string }>;
  states: {
    name: string; fixedPart: string; channelId: string; appData: string; outcome: string; turnNum: number; isFinal: boolean;
    stateHash: string; challengeHash: string; signatures: Record<string, RawSig>;
  }[];
  vouchers: { channelId: string; amount: string; hash: string; signature: RawSig; redemptionAppData: string }[];
}

export const raw = JSON.parse(readFileSync(VECTORS_PATH, 'utf8')) as Raw;

export function toOutcome(exits: RawExit[]): Outcome {
  return exits.map((e) => ({
    asset: e.asset as Address,
    assetMetadata: { assetType: e.assetMetadata.assetType, metadata: e.assetMetadata.metadata as Hex },
    allocations: e.allocations.map((a) => ({
      destination: a.destination.toLowerCase() as Bytes32,
      amount: BigInt(a.amount),
      allocationType: a.allocationType as AllocationType,
      metadata: a.metadata.toLowerCase() as Hex,
    })),
  }));
}

export function toFixedPart(name: string): FixedPart {
  const f = raw.fixedParts[name]!;
  return {
    participants: f.participants as Address[],
    channelNonce: BigInt(f.channelNonce),
    appDefinition: f.appDefinition as Address,
    challengeDuration: f.challengeDuration,
  };
}
