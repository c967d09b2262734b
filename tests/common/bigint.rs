//! A 256-bit arithmetic oracle built on `num-bigint`, independent of rvx's own implementation.

use num_bigint::{BigInt, BigUint, Sign};

/// The expected result of operation `funct7` on `a`, `b`, computed with `num-bigint`.
pub fn oracle(funct7: usize, a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let modulus: BigUint = BigUint::from(1u8) << 256usize;
    let ua = BigUint::from_bytes_le(a);
    let ub = BigUint::from_bytes_le(b);
    let signed = |x: &BigUint| -> BigInt {
        if x.bit(255) {
            BigInt::from_biguint(Sign::Plus, x.clone()) - BigInt::from(modulus.clone())
        } else {
            BigInt::from_biguint(Sign::Plus, x.clone())
        }
    };
    let unsigned = |x: BigInt| -> BigUint {
        let m = BigInt::from(modulus.clone());
        (((x % &m) + &m) % &m).to_biguint().unwrap()
    };
    // Shifts take the low byte of the second operand.
    let shift = usize::from(b[0]);
    let r: BigUint = match funct7 {
        0 => (&ua + &ub) % &modulus,
        1 => unsigned(BigInt::from(ua.clone()) - BigInt::from(ub.clone())),
        2 => &ua ^ &ub,
        3 => &ua | &ub,
        4 => &ua & &ub,
        5 => (&ua << shift) % &modulus,
        6 => &ua >> shift,
        7 => {
            // Floor division by 2^shift (num-bigint's >> rounds toward negative infinity).
            unsigned(signed(&ua) >> shift)
        }
        8 => BigUint::from(u8::from(signed(&ua) < signed(&ub))),
        9 => BigUint::from(u8::from(ua < ub)),
        _ => (&ua * &ub) % &modulus,
    };
    let mut out = [0u8; 32];
    let bytes = r.to_bytes_le();
    out[..bytes.len()].copy_from_slice(&bytes);
    out
}
