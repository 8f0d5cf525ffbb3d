/**
 * The engine's node-to-node wire format: one protocol message per payload, as versioned,
 * tagged JSON (`{"v":1,"m":{...}}`, bigints and bytes tagged as in ../json.ts).
 *
 * {@link decodeWireMessage} is the only way a peer's bytes reach the engine: it bounds the
 * size, parses, and rebuilds the message field by field into the {@link ProtocolMessage}
 * union (unknown fields dropped, every value range-checked, signatures shape-checked), so
 * the protocols never see an unvalidated value. Anything else throws `PROTOCOL_MALFORMED`.
 */
import { parseAddress } from '../address.ts';
import { SluiceError } from '../errors.ts';
import { type Bytes32, type Hex, assertHex, parseBytes32 } from '../hex.ts';
import { parseJson, stringifyJson } from '../json.ts';
import type { Outcome } from '../outcome.ts';
import { assertOutcome } from '../outcome.ts';
import { type Signature, parseSignature } from '../signature.ts';
import { type State, assertFixedPart, assertVariablePart } from '../state.ts';
import type { Countersignature, Proposal, SignedProposal } from '../protocols/ledger.ts';
import type { Destination, ProtocolMessage } from '../protocols/types.ts';

export const WIRE_VERSION = 1;
/** Largest payload the engine accepts (a virtual or ledger state with signatures is a few KiB). */
export const MAX_WIRE_BYTES = 128 * 1024;
const MAX_PARTICIPANTS = 8;
const MAX_EXITS = 4;
const MAX_ALLOCATIONS = 64;

/** Objective ids the engine knows, by prefix (see the protocols' `*Id` functions). */
export const OBJECTIVE_ID_RE = /^(DirectFunding|DirectDefunding|VirtualFund|VirtualDefund)-0x[0-9a-f]{64}$|^LedgerTopUp-0x[0-9a-f]{64}-(0|[1-9][0-9]{0,77})$|^GuaranteeRemoval-0x[0-9a-f]{64}-0x[0-9a-f]{64}$/;

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

/**
 * Engine-level notice (go-nitro's RejectObjective): the sender refuses to join the objective its
 * initiator proposed, so the initiator can stop waiting. Advisory only: it is honoured only
 * while the refusing peer's signature is still missing (see the engine).
 */
export interface RejectObjectiveMessage {
  readonly kind: 'rejectObjective';
  readonly objectiveId: string;
  /** A SluiceError code (e.g. HUB_POLICY_REJECTED). */
  readonly code: string;
  /** Short human-readable reason (at most 200 characters). */
  readonly reason: string;
}

/** Everything on the engine's wire. */
export type WireMessage = ProtocolMessage | RejectObjectiveMessage;

/** Encode a message for {@link MessageService.send}. */
export function encodeWireMessage(message: WireMessage): Uint8Array {
  return encoder.encode(stringifyJson({ v: WIRE_VERSION, m: message }));
}

function bad(message: string, cause?: unknown): never {
  throw new SluiceError('PROTOCOL_MALFORMED', message, cause === undefined ? {} : { cause });
}

function obj(x: unknown, name: string): Record<string, unknown> {
  if (x === null || typeof x !== 'object' || Array.isArray(x)) bad(`${name} must be an object`);
  return x as Record<string, unknown>;
}

function arr(x: unknown, name: string, min: number, max: number): unknown[] {
  if (!Array.isArray(x) || x.length < min || x.length > max) bad(`${name} must be an array of ${min} to ${max} items`);
  return x;
}

function uint(x: unknown, name: string): bigint {
  if (typeof x !== 'bigint' || x < 0n || x >> 256n !== 0n) bad(`${name} must be a uint256`);
  return x;
}

function turn(x: unknown, name: string): number {
  if (!Number.isSafeInteger(x) || (x as number) < 0 || (x as number) >= 2 ** 48) bad(`${name} must be a uint48`);
  return x as number;
}

function bytes32(x: unknown, name: string): Bytes32 {
  try {
    return parseBytes32(x, name);
  } catch (e) {
    return bad(`${name} must be 32 bytes of hex`, e);
  }
}

function signature(x: unknown, name: string): Signature {
  if (!(x instanceof Uint8Array)) bad(`${name} must be bytes`);
  return parseSignature(x, name);
}

/** The objective id of a message. @throws SluiceError PROTOCOL_MALFORMED */
export function parseObjectiveId(x: unknown): string {
  if (typeof x !== 'string' || x.length > 160 || !OBJECTIVE_ID_RE.test(x)) bad('objectiveId is not a known objective id');
  return x;
}

function outcome(x: unknown): Outcome {
  const exits = arr(x, 'outcome', 1, MAX_EXITS).map((e, i) => {
    const o = obj(e, `outcome[${i}]`);
    const md = obj(o['assetMetadata'], `outcome[${i}].assetMetadata`);
    return {
      asset: o['asset'],
      assetMetadata: { assetType: md['assetType'], metadata: md['metadata'] },
      allocations: arr(o['allocations'], `outcome[${i}].allocations`, 0, MAX_ALLOCATIONS).map((a, j) => {
        const al = obj(a, `outcome[${i}].allocations[${j}]`);
        return { destination: al['destination'], amount: al['amount'], allocationType: al['allocationType'], metadata: al['metadata'] };
      }),
    };
  });
  assertOutcome(exits);
  return (exits as unknown as Outcome).map((e) => ({
    ...e,
    asset: parseAddress(e.asset, 'asset'),
    allocations: e.allocations.map((a) => ({ ...a, destination: parseBytes32(a.destination, 'destination') })),
  }));
}

function state(x: unknown): State {
  const s = obj(x, 'state');
  const participants = arr(s['participants'], 'participants', 2, MAX_PARTICIPANTS).map((p, i) => parseAddress(p, `participants[${i}]`));
  const appData = s['appData'];
  assertHex(appData, 'appData');
  if (appData.length > 2 + 2 * 4096) bad('appData is too large');
  const out: State = {
    participants,
    channelNonce: uint(s['channelNonce'], 'channelNonce'),
    appDefinition: parseAddress(s['appDefinition'], 'appDefinition'),
    challengeDuration: turn(s['challengeDuration'], 'challengeDuration'),
    appData: appData as Hex,
    outcome: outcome(s['outcome']),
    turnNum: turn(s['turnNum'], 'turnNum'),
    isFinal: s['isFinal'] as boolean,
  };
  assertFixedPart(out);
  assertVariablePart(out);
  return out;
}

function destination(x: unknown, name: string): Destination {
  return bytes32(x, name) as Destination;
}

function proposal(x: unknown): Proposal {
  const p = obj(x, 'proposal');
  switch (p['type']) {
    case 'add': {
      const g = obj(p['guarantee'], 'guarantee');
      return {
        type: 'add',
        guarantee: {
          target: bytes32(g['target'], 'guarantee.target'),
          amount: uint(g['amount'], 'guarantee.amount'),
          left: destination(g['left'], 'guarantee.left'),
          right: destination(g['right'], 'guarantee.right'),
        },
        leftDeposit: uint(p['leftDeposit'], 'leftDeposit'),
      };
    }
    case 'remove':
      return { type: 'remove', target: bytes32(p['target'], 'target'), leftAmount: uint(p['leftAmount'], 'leftAmount') };
    case 'topUp':
      return { type: 'topUp', destination: destination(p['destination'], 'destination'), amount: uint(p['amount'], 'amount') };
    default:
      return bad('unknown proposal type');
  }
}

function signedProposal(x: unknown): SignedProposal {
  const sp = obj(x, 'signedProposal');
  return {
    ledgerId: bytes32(sp['ledgerId'], 'ledgerId'),
    turnNum: turn(sp['turnNum'], 'turnNum'),
    proposal: proposal(sp['proposal']),
    signature: signature(sp['signature'], 'signature'),
  };
}

function countersignature(x: unknown): Countersignature {
  const cs = obj(x, 'countersignature');
  return { ledgerId: bytes32(cs['ledgerId'], 'ledgerId'), turnNum: turn(cs['turnNum'], 'turnNum'), signature: signature(cs['signature'], 'signature') };
}

/**
 * Parse and validate a peer's payload.
 * @throws SluiceError PROTOCOL_MALFORMED (oversize, not JSON, wrong version, unknown kind, any bad field),
 *   SIGNATURE_* (a malformed signature)
 */
export function decodeWireMessage(payload: Uint8Array): WireMessage {
  if (!(payload instanceof Uint8Array)) bad('payload must be bytes');
  if (payload.length > MAX_WIRE_BYTES) bad('payload is too large');
  let raw: unknown;
  try {
    raw = parseJson(decoder.decode(payload));
  } catch (e) {
    return bad('payload is not valid tagged JSON', e);
  }
  const env = obj(raw, 'envelope');
  if (env['v'] !== WIRE_VERSION) bad('unsupported wire version');
  const m = obj(env['m'], 'message');
  const objectiveId = parseObjectiveId(m['objectiveId']);
  try {
    switch (m['kind']) {
      case 'signedState': {
        const s = state(m['state']);
        const signatures = arr(m['signatures'], 'signatures', 1, MAX_PARTICIPANTS).map((x, i) => signature(x, `signatures[${i}]`));
        return { kind: 'signedState', objectiveId, state: s, signatures };
      }
      case 'ledgerProposal':
        return { kind: 'ledgerProposal', objectiveId, signedProposal: signedProposal(m['signedProposal']) };
      case 'ledgerCountersignature':
        return { kind: 'ledgerCountersignature', objectiveId, countersignature: countersignature(m['countersignature']) };
      case 'rejectObjective': {
        const code = m['code'];
        const reason = m['reason'];
        if (typeof code !== 'string' || !/^[A-Z][A-Z0-9_]{0,39}$/.test(code)) bad('rejection code is malformed');
        if (typeof reason !== 'string' || reason.length > 200) bad('rejection reason is malformed');
        return { kind: 'rejectObjective', objectiveId, code, reason };
      }
      default:
        return bad('unknown message kind');
    }
  } catch (e) {
    if (e instanceof SluiceError) throw e;
    return bad(e instanceof Error ? e.message : 'malformed message', e);
  }
}
