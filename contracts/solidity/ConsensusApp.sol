// SPDX-License-Identifier: MIT
pragma solidity ^0.8.17;

import {FixedPart, RecoveredVariablePart, IForceMoveApp} from './NitroTypes.sol';
import {NitroUtils} from './NitroUtils.sol';

/// A state is supported iff it alone (empty proof) is signed by every participant.
contract ConsensusApp is IForceMoveApp {
    function stateIsSupported(
        FixedPart calldata fixedPart,
        RecoveredVariablePart[] calldata proof,
        RecoveredVariablePart calldata candidate
    ) external pure override returns (bool, string memory) {
        require(proof.length == 0, '|proof|!=0');
        require(NitroUtils.isUnanimous(candidate.signedBy, fixedPart.participants.length), '!unanimous');
        return (true, '');
    }
}
