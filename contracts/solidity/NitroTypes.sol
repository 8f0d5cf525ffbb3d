// SPDX-License-Identifier: MIT
pragma solidity ^0.8.17;

// Wire types of Nitro Gen-2 (exit-format 0.2.0 outcome + ForceMove state parts).
// Field order and types define the ABI, so they must not change.

// Allocation types used on chain: 0 simple, 1 withdrawHelper, 2 guarantee.
uint8 constant ALLOCATION_TYPE_GUARANTEE = 2;

struct Allocation {
    bytes32 destination; // external address (left-padded) or a channel id
    uint256 amount;
    uint8 allocationType;
    bytes metadata; // guarantee: abi.encode(bytes32 left, bytes32 right)
}

struct AssetMetadata {
    uint8 assetType;
    bytes metadata;
}

struct SingleAssetExit {
    address asset; // address(0) = native ETH
    AssetMetadata assetMetadata;
    Allocation[] allocations;
}

struct Signature {
    uint8 v;
    bytes32 r;
    bytes32 s;
}

struct FixedPart {
    address[] participants;
    uint64 channelNonce;
    address appDefinition;
    uint48 challengeDuration;
}

struct VariablePart {
    SingleAssetExit[] outcome;
    bytes appData;
    uint48 turnNum;
    bool isFinal;
}

struct SignedVariablePart {
    VariablePart variablePart;
    Signature[] sigs;
}

struct RecoveredVariablePart {
    VariablePart variablePart;
    uint256 signedBy; // bit i set <=> participants[i] signed
}

/// The application rule interface the adjudicator calls (same ABI as Nitro's IForceMoveApp).
interface IForceMoveApp {
    function stateIsSupported(
        FixedPart calldata fixedPart,
        RecoveredVariablePart[] calldata proof,
        RecoveredVariablePart calldata candidate
    ) external view returns (bool, string memory);
}
