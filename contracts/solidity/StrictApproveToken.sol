// SPDX-License-Identifier: MIT
pragma solidity ^0.8.17;

/// Test ERC20 with the quirks of Tether's USDT: `approve` refuses to change a non-zero allowance
/// to another non-zero value (it must be set to zero first), and `approve`, `transfer` and
/// `transferFrom` return nothing. Anyone may mint: never deploy it for real value.
contract StrictApproveToken {
    string public constant name = 'Sluice Strict Approve Token';
    string public constant symbol = 'SAT';
    uint8 public constant decimals = 6;
    uint256 public totalSupply;
    mapping(address => uint256) public balanceOf;
    mapping(address => mapping(address => uint256)) public allowance;

    event Transfer(address indexed from, address indexed to, uint256 value);
    event Approval(address indexed owner, address indexed spender, uint256 value);

    function mint(address to, uint256 amount) external {
        totalSupply += amount;
        balanceOf[to] += amount;
        emit Transfer(address(0), to, amount);
    }

    function approve(address spender, uint256 amount) external {
        require(amount == 0 || allowance[msg.sender][spender] == 0, 'approve from non-zero to non-zero allowance');
        allowance[msg.sender][spender] = amount;
        emit Approval(msg.sender, spender, amount);
    }

    function transfer(address to, uint256 amount) external {
        _move(msg.sender, to, amount);
    }

    function transferFrom(address from, address to, uint256 amount) external {
        uint256 allowed = allowance[from][msg.sender];
        require(allowed >= amount, 'insufficient allowance');
        allowance[from][msg.sender] = allowed - amount;
        _move(from, to, amount);
    }

    function _move(address from, address to, uint256 amount) private {
        uint256 bal = balanceOf[from];
        require(bal >= amount, 'insufficient balance');
        balanceOf[from] = bal - amount;
        balanceOf[to] += amount;
        emit Transfer(from, to, amount);
    }
}
