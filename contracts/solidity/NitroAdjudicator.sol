// SPDX-License-Identifier: MIT
pragma solidity ^0.8.17;

import {
    ALLOCATION_TYPE_GUARANTEE,
    Allocation,
    SingleAssetExit,
    Signature,
    FixedPart,
    VariablePart,
    SignedVariablePart,
    RecoveredVariablePart,
    IForceMoveApp
} from './NitroTypes.sol';
import {NitroUtils} from './NitroUtils.sol';

interface IERC20Minimal {
    function transfer(address to, uint256 amount) external returns (bool);
    function transferFrom(address from, address to, uint256 amount) external returns (bool);
}

/// Sluice's adjudicator: ForceMove (challenge / checkpoint / conclude) plus a multi-asset
/// holder (deposit / transfer / reclaim), with the external ABI and storage semantics of
/// Nitro Gen-2's NitroAdjudicator.
///
/// Channel status (statusOf[channelId]) packs, from the most significant bit:
///   turnNumRecord (48 bits) | finalizesAt (48 bits) | fingerprint (160 bits)
/// where fingerprint = low 160 bits of keccak256(abi.encode(stateHash, outcomeHash)).
/// Mode: finalizesAt == 0 -> open; finalizesAt > now -> challenge; otherwise finalized.
contract NitroAdjudicator {
    /// holdings[asset][channelId]; asset address(0) is native ETH.
    mapping(address => mapping(bytes32 => uint256)) public holdings;
    mapping(bytes32 => bytes32) public statusOf;

    struct ReclaimArgs {
        bytes32 sourceChannelId;
        bytes32 sourceStateHash;
        bytes sourceOutcomeBytes;
        uint256 sourceAssetIndex;
        uint256 indexOfTargetInSource;
        bytes32 targetStateHash;
        bytes targetOutcomeBytes;
        uint256 targetAssetIndex;
    }

    event Deposited(bytes32 indexed destination, address asset, uint256 destinationHoldings);
    event AllocationUpdated(bytes32 indexed channelId, uint256 assetIndex, uint256 initialHoldings, uint256 finalHoldings);
    event Reclaimed(bytes32 indexed channelId, uint256 assetIndex);
    event ChallengeRegistered(
        bytes32 indexed channelId,
        uint48 finalizesAt,
        SignedVariablePart[] proof,
        SignedVariablePart candidate
    );
    event ChallengeCleared(bytes32 indexed channelId, uint48 newTurnNumRecord);
    event Checkpointed(bytes32 indexed channelId, uint48 newTurnNumRecord);
    event Concluded(bytes32 indexed channelId, uint48 finalizesAt);

    // ------------------------------------------------------------------ status

    function unpackStatus(
        bytes32 channelId
    ) external view returns (uint48 turnNumRecord, uint48 finalizesAt, uint160 fingerprint) {
        return _unpack(statusOf[channelId]);
    }

    function _unpack(bytes32 status) private pure returns (uint48, uint48, uint160) {
        uint256 s = uint256(status);
        return (uint48(s >> 208), uint48(s >> 160), uint160(s));
    }

    function _pack(
        uint48 turnNumRecord,
        uint48 finalizesAt,
        bytes32 stateHash,
        bytes32 outcomeHash
    ) private pure returns (bytes32) {
        return
            bytes32(
                (uint256(turnNumRecord) << 208) |
                    (uint256(finalizesAt) << 160) |
                    uint256(uint160(uint256(keccak256(abi.encode(stateHash, outcomeHash)))))
            );
    }

    function _isFinalized(uint48 finalizesAt) private view returns (bool) {
        return finalizesAt != 0 && finalizesAt <= block.timestamp;
    }

    /// Reverts unless the channel is finalized and its fingerprint matches; returns its status parts.
    function _requireFinalizedWith(
        bytes32 channelId,
        bytes32 stateHash,
        bytes32 outcomeHash
    ) private view returns (uint48 turnNumRecord, uint48 finalizesAt) {
        uint160 fingerprint;
        (turnNumRecord, finalizesAt, fingerprint) = _unpack(statusOf[channelId]);
        require(_isFinalized(finalizesAt), 'Channel not finalized.');
        require(
            fingerprint == uint160(uint256(keccak256(abi.encode(stateHash, outcomeHash)))),
            'incorrect fingerprint'
        );
    }

    // --------------------------------------------------------------- ForceMove

    function challenge(
        FixedPart memory fixedPart,
        SignedVariablePart[] memory proof,
        SignedVariablePart memory candidate,
        Signature memory challengerSig
    ) external {
        bytes32 channelId = NitroUtils.channelId(fixedPart);
        uint48 turnNum = candidate.variablePart.turnNum;
        (uint48 turnNumRecord, uint48 finalizesAt, ) = _unpack(statusOf[channelId]);
        if (finalizesAt == 0) {
            require(turnNum >= turnNumRecord, 'turnNumRecord decreased.');
        } else {
            require(!_isFinalized(finalizesAt), 'Channel finalized.');
            require(turnNum > turnNumRecord, 'turnNumRecord not increased.');
        }

        bytes32 stateHash = _requireSupported(channelId, fixedPart, proof, candidate);

        address challenger = NitroUtils.recoverSigner(keccak256(abi.encode(stateHash, 'forceMove')), challengerSig);
        require(_isParticipant(challenger, fixedPart.participants), 'Challenger is not a participant');

        uint48 newFinalizesAt = uint48(block.timestamp) + fixedPart.challengeDuration;
        emit ChallengeRegistered(channelId, newFinalizesAt, proof, candidate);
        statusOf[channelId] = _pack(turnNum, newFinalizesAt, stateHash, _hashOutcome(candidate.variablePart.outcome));
    }

    function checkpoint(
        FixedPart memory fixedPart,
        SignedVariablePart[] memory proof,
        SignedVariablePart memory candidate
    ) external {
        bytes32 channelId = NitroUtils.channelId(fixedPart);
        uint48 turnNum = candidate.variablePart.turnNum;
        (uint48 turnNumRecord, uint48 finalizesAt, ) = _unpack(statusOf[channelId]);
        require(!_isFinalized(finalizesAt), 'Channel finalized.');
        require(turnNum > turnNumRecord, 'turnNumRecord not increased.');

        _requireSupported(channelId, fixedPart, proof, candidate);

        statusOf[channelId] = _pack(turnNum, 0, bytes32(0), bytes32(0));
        if (finalizesAt == 0) emit Checkpointed(channelId, turnNum);
        else emit ChallengeCleared(channelId, turnNum);
    }

    function conclude(FixedPart memory fixedPart, SignedVariablePart memory candidate) external {
        (bytes32 channelId, bytes32 outcomeHash) = _conclude(fixedPart, candidate);
        statusOf[channelId] = _pack(0, uint48(block.timestamp), bytes32(0), outcomeHash);
    }

    /// Checks a unanimously signed final state and emits Concluded; the caller writes the status.
    function _conclude(
        FixedPart memory fixedPart,
        SignedVariablePart memory candidate
    ) private returns (bytes32 channelId, bytes32 outcomeHash) {
        channelId = NitroUtils.channelId(fixedPart);
        (, uint48 finalizesAt, ) = _unpack(statusOf[channelId]);
        require(!_isFinalized(finalizesAt), 'Channel finalized.');
        require(candidate.variablePart.isFinal, 'State must be final');
        (uint256 signedBy, ) = _signedBy(channelId, fixedPart.participants, candidate);
        require(NitroUtils.isUnanimous(signedBy, fixedPart.participants.length), '!unanimous');
        outcomeHash = _hashOutcome(candidate.variablePart.outcome);
        emit Concluded(channelId, uint48(block.timestamp));
    }

    /// Calls the channel's app with the recovered proof and candidate (same semantics as
    /// Nitro's stateIsSupported); `sup` is false with the app's reason if it says no.
    function stateIsSupported(
        FixedPart memory fixedPart,
        SignedVariablePart[] memory proof,
        SignedVariablePart memory candidate
    ) external view returns (bool, string memory) {
        (bool sup, string memory reason, ) = _stateIsSupported(NitroUtils.channelId(fixedPart), fixedPart, proof, candidate);
        return (sup, reason);
    }

    function _requireSupported(
        bytes32 channelId,
        FixedPart memory fixedPart,
        SignedVariablePart[] memory proof,
        SignedVariablePart memory candidate
    ) private view returns (bytes32 candidateHash) {
        bool sup;
        string memory reason;
        (sup, reason, candidateHash) = _stateIsSupported(channelId, fixedPart, proof, candidate);
        require(sup, reason);
    }

    function _stateIsSupported(
        bytes32 channelId,
        FixedPart memory fixedPart,
        SignedVariablePart[] memory proof,
        SignedVariablePart memory candidate
    ) private view returns (bool sup, string memory reason, bytes32 candidateHash) {
        RecoveredVariablePart[] memory recovered = new RecoveredVariablePart[](proof.length);
        for (uint256 i = 0; i < proof.length; i++) {
            (uint256 by, ) = _signedBy(channelId, fixedPart.participants, proof[i]);
            recovered[i] = RecoveredVariablePart(proof[i].variablePart, by);
        }
        uint256 signedBy;
        (signedBy, candidateHash) = _signedBy(channelId, fixedPart.participants, candidate);
        (sup, reason) = IForceMoveApp(fixedPart.appDefinition).stateIsSupported(
            fixedPart,
            recovered,
            RecoveredVariablePart(candidate.variablePart, signedBy)
        );
    }

    /// Hashes the state once and returns the bitmask of participants who signed it.
    /// Signatures by non-participants are ignored; an unrecoverable signature reverts.
    function _signedBy(
        bytes32 channelId,
        address[] memory participants,
        SignedVariablePart memory svp
    ) private pure returns (uint256 signedBy, bytes32 stateHash) {
        VariablePart memory vp = svp.variablePart;
        stateHash = keccak256(abi.encode(channelId, vp.appData, vp.outcome, vp.turnNum, vp.isFinal));
        for (uint256 j = 0; j < svp.sigs.length; j++) {
            address signer = NitroUtils.recoverSigner(stateHash, svp.sigs[j]);
            for (uint256 i = 0; i < participants.length; i++) {
                if (signer == participants[i]) {
                    signedBy |= 1 << i;
                    break;
                }
            }
        }
    }

    function _isParticipant(address who, address[] memory participants) private pure returns (bool) {
        for (uint256 i = 0; i < participants.length; i++) {
            if (participants[i] == who) return true;
        }
        return false;
    }

    function _hashOutcome(SingleAssetExit[] memory outcome) private pure returns (bytes32) {
        return keccak256(abi.encode(outcome));
    }

    // ------------------------------------------------------------- asset holder

    function deposit(address asset, bytes32 channelId, uint256 expectedHeld, uint256 amount) external payable {
        require(uint96(bytes12(channelId)) != 0, 'Deposit to external destination');
        uint256 held = holdings[asset][channelId];
        require(held == expectedHeld, 'held != expectedHeld');
        held += amount;
        holdings[asset][channelId] = held;
        if (asset == address(0)) {
            require(msg.value == amount, 'Incorrect msg.value for deposit');
        } else {
            require(msg.value == 0, 'Incorrect msg.value for deposit');
            _callToken(asset, abi.encodeCall(IERC20Minimal.transferFrom, (msg.sender, address(this), amount)));
        }
        emit Deposited(channelId, asset, held);
    }

    /// Pays out every asset of a finalized channel as far as its holdings allow, in
    /// allocation order. Reverts on a guarantee allocation (reclaim it first).
    function transferAllAssets(bytes32 channelId, SingleAssetExit[] memory outcome, bytes32 stateHash) external {
        (uint48 turnNumRecord, uint48 finalizesAt) = _requireFinalizedWith(channelId, stateHash, _hashOutcome(outcome));
        _transferAllAssets(channelId, outcome, stateHash, turnNumRecord, finalizesAt);
    }

    function concludeAndTransferAllAssets(FixedPart memory fixedPart, SignedVariablePart memory candidate) external {
        (bytes32 channelId, ) = _conclude(fixedPart, candidate);
        _transferAllAssets(channelId, candidate.variablePart.outcome, bytes32(0), 0, uint48(block.timestamp));
    }

    /// Effects then interactions for all assets; writes the channel status exactly once
    /// (deleted when nothing is left to pay out).
    function _transferAllAssets(
        bytes32 channelId,
        SingleAssetExit[] memory outcome,
        bytes32 stateHash,
        uint48 turnNumRecord,
        uint48 finalizesAt
    ) private {
        uint256 n = outcome.length;
        Allocation[][] memory exits = new Allocation[][](n);
        bool allocatesOnlyZeros = true;
        for (uint256 a = 0; a < n; a++) {
            address asset = outcome[a].asset;
            uint256 initialHoldings = holdings[asset][channelId];
            (
                Allocation[] memory newAllocations,
                bool onlyZeros,
                Allocation[] memory exitAllocations,
                uint256 totalPayouts
            ) = compute_transfer_effects_and_interactions(initialHoldings, outcome[a].allocations, new uint256[](0));
            if (!onlyZeros) allocatesOnlyZeros = false;
            outcome[a].allocations = newAllocations;
            exits[a] = exitAllocations;
            if (totalPayouts != 0) holdings[asset][channelId] = initialHoldings - totalPayouts;
            emit AllocationUpdated(channelId, a, initialHoldings, initialHoldings - totalPayouts);
        }

        if (allocatesOnlyZeros) delete statusOf[channelId];
        else statusOf[channelId] = _pack(turnNumRecord, finalizesAt, stateHash, _hashOutcome(outcome));

        for (uint256 a = 0; a < n; a++) _payOut(outcome[a].asset, exits[a]);
    }

    /// Pays out the allocations at `indices` (strictly increasing; empty = all) of one
    /// asset of a finalized channel. Earlier allocations keep their priority on the funds.
    function transfer(
        uint256 assetIndex,
        bytes32 fromChannelId,
        bytes memory outcomeBytes,
        bytes32 stateHash,
        uint256[] memory indices
    ) external {
        for (uint256 i = 1; i < indices.length; i++) {
            require(indices[i - 1] < indices[i], 'Indices must be sorted');
        }
        (uint48 turnNumRecord, uint48 finalizesAt) = _requireFinalizedWith(fromChannelId, stateHash, keccak256(outcomeBytes));

        SingleAssetExit[] memory outcome = abi.decode(outcomeBytes, (SingleAssetExit[]));
        address asset = outcome[assetIndex].asset;
        uint256 initialHoldings = holdings[asset][fromChannelId];
        (Allocation[] memory newAllocations, , Allocation[] memory exitAllocations, uint256 totalPayouts) =
            compute_transfer_effects_and_interactions(initialHoldings, outcome[assetIndex].allocations, indices);

        holdings[asset][fromChannelId] = initialHoldings - totalPayouts;
        outcome[assetIndex].allocations = newAllocations;
        statusOf[fromChannelId] = _pack(turnNumRecord, finalizesAt, stateHash, _hashOutcome(outcome));
        emit AllocationUpdated(fromChannelId, assetIndex, initialHoldings, initialHoldings - totalPayouts);

        _payOut(asset, exitAllocations);
    }

    /// Pure payout computation (same results as Nitro's): walks the allocations in order,
    /// each taking min(amount, what is left); the selected ones (`indices`, or all if empty)
    /// are paid. Reverts if a selected allocation is a guarantee or an index is out of range.
    function compute_transfer_effects_and_interactions(
        uint256 initialHoldings,
        Allocation[] memory allocations,
        uint256[] memory indices
    )
        public
        pure
        returns (
            Allocation[] memory newAllocations,
            bool allocatesOnlyZeros,
            Allocation[] memory exitAllocations,
            uint256 totalPayouts
        )
    {
        bool all = indices.length == 0;
        exitAllocations = new Allocation[](all ? allocations.length : indices.length);
        newAllocations = new Allocation[](allocations.length);
        allocatesOnlyZeros = true;
        uint256 surplus = initialHoldings;
        uint256 k = 0;
        for (uint256 i = 0; i < allocations.length; i++) {
            Allocation memory al = allocations[i];
            uint256 affords = al.amount < surplus ? al.amount : surplus;
            uint256 remaining = al.amount;
            if (all || (k < indices.length && indices[k] == i)) {
                require(al.allocationType != ALLOCATION_TYPE_GUARANTEE, 'cannot transfer a guarantee');
                remaining -= affords;
                exitAllocations[k] = Allocation(al.destination, affords, al.allocationType, al.metadata);
                totalPayouts += affords;
                k++;
            }
            newAllocations[i] = Allocation(al.destination, remaining, al.allocationType, al.metadata);
            if (remaining != 0) allocatesOnlyZeros = false;
            surplus -= affords;
        }
        require(k == exitAllocations.length, 'Index out of range');
    }

    /// Moves the funds of a guarantee in a finalized ledger (source) back to the guarantee's
    /// left and right destinations, per the finalized outcome of the guaranteed channel (target).
    function reclaim(ReclaimArgs memory args) external {
        (uint48 turnNumRecord, uint48 finalizesAt) =
            _requireFinalizedWith(args.sourceChannelId, args.sourceStateHash, keccak256(args.sourceOutcomeBytes));
        SingleAssetExit[] memory source = abi.decode(args.sourceOutcomeBytes, (SingleAssetExit[]));
        SingleAssetExit[] memory target = abi.decode(args.targetOutcomeBytes, (SingleAssetExit[]));

        Allocation memory guarantee = source[args.sourceAssetIndex].allocations[args.indexOfTargetInSource];
        require(guarantee.allocationType == ALLOCATION_TYPE_GUARANTEE, 'not a guarantee allocation');
        require(target[args.targetAssetIndex].asset == source[args.sourceAssetIndex].asset, 'targetAsset != guaranteeAsset');
        _requireFinalizedWith(guarantee.destination, args.targetStateHash, keccak256(args.targetOutcomeBytes));

        source[args.sourceAssetIndex].allocations = compute_reclaim_effects(
            source[args.sourceAssetIndex].allocations,
            target[args.targetAssetIndex].allocations,
            args.indexOfTargetInSource
        );
        statusOf[args.sourceChannelId] = _pack(turnNumRecord, finalizesAt, args.sourceStateHash, _hashOutcome(source));
        emit Reclaimed(args.sourceChannelId, args.sourceAssetIndex);
    }

    /// Removes the guarantee at `indexOfTargetInSource` and credits the first allocation to
    /// its `left` with targetAllocations[0].amount and the first to its `right` with
    /// targetAllocations[1].amount; these must add up to the guarantee's amount.
    function compute_reclaim_effects(
        Allocation[] memory sourceAllocations,
        Allocation[] memory targetAllocations,
        uint256 indexOfTargetInSource
    ) public pure returns (Allocation[] memory newSourceAllocations) {
        Allocation memory guarantee = sourceAllocations[indexOfTargetInSource];
        (bytes32 left, bytes32 right) = abi.decode(guarantee.metadata, (bytes32, bytes32));
        require(targetAllocations.length >= 2, 'target needs 2 allocations');
        uint256 leftAmount = targetAllocations[0].amount;
        uint256 rightAmount = targetAllocations[1].amount;
        require(leftAmount + rightAmount == guarantee.amount, 'totalReclaimed!=guarantee.amount');

        newSourceAllocations = new Allocation[](sourceAllocations.length - 1);
        bool foundLeft;
        bool foundRight;
        uint256 k = 0;
        for (uint256 i = 0; i < sourceAllocations.length; i++) {
            if (i == indexOfTargetInSource) continue;
            Allocation memory al = sourceAllocations[i];
            uint256 amount = al.amount;
            if (!foundLeft && al.destination == left) {
                amount += leftAmount;
                foundLeft = true;
            }
            if (!foundRight && al.destination == right) {
                amount += rightAmount;
                foundRight = true;
            }
            newSourceAllocations[k++] = Allocation(al.destination, amount, al.allocationType, al.metadata);
        }
        require(foundLeft, 'could not find left');
        require(foundRight, 'could not find right');
    }

    // ------------------------------------------------------------ interactions

    function _payOut(address asset, Allocation[] memory exitAllocations) private {
        for (uint256 j = 0; j < exitAllocations.length; j++) {
            uint256 amount = exitAllocations[j].amount;
            if (amount == 0) continue;
            bytes32 destination = exitAllocations[j].destination;
            if (uint96(bytes12(destination)) != 0) {
                holdings[asset][destination] += amount; // a channel
            } else if (asset == address(0)) {
                (bool ok, ) = address(uint160(uint256(destination))).call{value: amount}('');
                require(ok, 'Could not transfer ETH');
            } else {
                _callToken(asset, abi.encodeCall(IERC20Minimal.transfer, (address(uint160(uint256(destination))), amount)));
            }
        }
    }

    /// Calls an ERC20 and requires success: `true` returned, or no return data from a contract
    /// (tokens that return nothing). A call to an address without code fails.
    function _callToken(address token, bytes memory data) private {
        (bool ok, bytes memory ret) = token.call(data);
        require(ok && (ret.length == 0 ? token.code.length != 0 : abi.decode(ret, (bool))), 'token transfer failed');
    }
}
