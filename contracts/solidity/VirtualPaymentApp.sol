// SPDX-License-Identifier: MIT
pragma solidity ^0.8.17;

import {
    FixedPart,
    RecoveredVariablePart,
    SingleAssetExit,
    Allocation,
    Signature,
    IForceMoveApp
} from './NitroTypes.sol';
import {NitroUtils} from './NitroUtils.sol';

/// Rules of a virtual payment channel V = [payer, intermediaries..., payee]:
///  - turn 0 (prefund) and turn 1 (postfund) are supported when signed by everyone;
///  - turn 2 (redemption) is supported with proof = [unanimous postfund] when it is signed
///    by the payee (last participant) and carries, as appData, a voucher
///    `abi.encode((uint256 amount, (uint8 v, bytes32 r, bytes32 s)))` in which the payer
///    (participant 0) EIP-191-signed keccak256(abi.encode(channelId, amount)); the outcome
///    must then move exactly `amount` from the payer's allocation (index 0) to the payee's
///    (index 1) and change nothing else.
/// Unlike the Nitro reference this works for any single asset (ETH or ERC20), and it also
/// checks that destinations, types and metadata are unchanged.
contract VirtualPaymentApp is IForceMoveApp {
    struct Voucher {
        uint256 amount;
        Signature signature;
    }

    function stateIsSupported(
        FixedPart calldata fixedPart,
        RecoveredVariablePart[] calldata proof,
        RecoveredVariablePart calldata candidate
    ) external pure override returns (bool, string memory) {
        uint256 n = fixedPart.participants.length;
        if (proof.length == 0) {
            require(NitroUtils.isUnanimous(candidate.signedBy, n), '!unanimous; |proof|=0');
            require(candidate.variablePart.turnNum <= 1, 'bad candidate turnNum; |proof|=0');
            return (true, '');
        }
        require(proof.length == 1, 'bad proof length');
        require(proof[0].variablePart.turnNum == 1, 'bad proof[0].turnNum; |proof|=1');
        require(NitroUtils.isUnanimous(proof[0].signedBy, n), 'postfund !unanimous; |proof|=1');
        require(candidate.variablePart.turnNum == 2, 'bad candidate turnNum; |proof|=1');
        require((candidate.signedBy >> (n - 1)) & 1 == 1, 'redemption not signed by Bob');

        Voucher memory voucher = abi.decode(candidate.variablePart.appData, (Voucher));
        address signer = NitroUtils.recoverSigner(
            keccak256(abi.encode(NitroUtils.channelId(fixedPart), voucher.amount)),
            voucher.signature
        );
        require(signer == fixedPart.participants[0], 'invalid signature for voucher');

        _requireCorrectAdjustments(proof[0].variablePart.outcome, candidate.variablePart.outcome, voucher.amount);
        return (true, '');
    }

    function _requireCorrectAdjustments(
        SingleAssetExit[] calldata oldOutcome,
        SingleAssetExit[] calldata newOutcome,
        uint256 amount
    ) private pure {
        require(oldOutcome.length == 1 && newOutcome.length == 1, 'only one asset allowed');
        SingleAssetExit calldata o = oldOutcome[0];
        SingleAssetExit calldata c = newOutcome[0];
        require(
            o.asset == c.asset &&
                keccak256(abi.encode(o.assetMetadata)) == keccak256(abi.encode(c.assetMetadata)),
            'asset changed'
        );
        require(o.allocations.length == 2 && c.allocations.length == 2, 'need 2 allocations');
        for (uint256 i = 0; i < 2; i++) {
            Allocation calldata a = o.allocations[i];
            Allocation calldata b = c.allocations[i];
            require(
                a.destination == b.destination &&
                    a.allocationType == b.allocationType &&
                    keccak256(a.metadata) == keccak256(b.metadata),
                'allocation changed'
            );
        }
        require(amount <= o.allocations[0].amount, 'voucher exceeds payer balance');
        require(c.allocations[0].amount == o.allocations[0].amount - amount, 'Alice not adjusted correctly');
        require(c.allocations[1].amount == o.allocations[1].amount + amount, 'Bob not adjusted correctly');
    }
}
