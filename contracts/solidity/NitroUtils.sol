// SPDX-License-Identifier: MIT
pragma solidity ^0.8.17;

import {FixedPart, Signature} from './NitroTypes.sol';

/// Hashing and signature helpers shared by the adjudicator and the apps.
library NitroUtils {
    /// channelId = keccak256(abi.encode(participants, channelNonce, appDefinition, challengeDuration))
    function channelId(FixedPart memory fp) internal pure returns (bytes32) {
        return keccak256(abi.encode(fp.participants, fp.channelNonce, fp.appDefinition, fp.challengeDuration));
    }

    /// Recovers the signer of an EIP-191 ("\x19Ethereum Signed Message:\n32") signed hash.
    /// Reverts on an invalid signature (including v not in {27, 28}).
    function recoverSigner(bytes32 hash, Signature memory sig) internal pure returns (address signer) {
        bytes32 digest = keccak256(abi.encodePacked('\x19Ethereum Signed Message:\n32', hash));
        signer = ecrecover(digest, sig.v, sig.r, sig.s);
        require(signer != address(0), 'Invalid signature');
    }

    /// True iff every one of `n` participants is marked in `signedBy` (and nobody else).
    function isUnanimous(uint256 signedBy, uint256 n) internal pure returns (bool) {
        return signedBy == (1 << n) - 1;
    }
}
