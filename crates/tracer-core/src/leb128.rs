//! LEB128 written a word at a time, for the `.rtrace` writer.
//!
//! A compacted record is a few LEB128 numbers, and the writer stores
//! millions of them a second. Writing one byte per loop turn makes the
//! processor guess each number's length; here the length comes from the
//! count of leading zeros, the seven-bit groups are spread into a word with
//! shifts and masks, and the word is stored whole. The bytes are exactly
//! those of the usual loop: the fewest that hold the value, a continuation
//! bit on all but the last.

/// The most bytes a LEB128 `u64` takes.
pub(crate) const MAX_BYTES: usize = 10;

/// Values under this take at most eight bytes: one word.
const ONE_WORD: u64 = 1 << 56;

/// The continuation bits of an eight-byte LEB128, the last byte's aside.
const MORE: u64 = 0x0080_8080_8080_8080;

/// Signed to unsigned, small magnitudes to small numbers: 0, -1, 1, -2 ...
/// become 0, 1, 2, 3 ...
#[inline(always)]
pub(crate) fn zigzag(v: i64) -> u64 {
    ((v << 1) ^ (v >> 63)) as u64
}

/// The inverse of [`zigzag`].
#[inline(always)]
pub(crate) fn unzigzag(v: u64) -> i64 {
    ((v >> 1) as i64) ^ -((v & 1) as i64)
}

/// How many bytes `v` takes as LEB128: one per started group of seven
/// significant bits, and one for zero.
#[inline(always)]
pub(crate) fn len(v: u64) -> usize {
    // floor(log2 v) * 9 / 64 + 1 is ceil((log2 v + 1) / 7) for every
    // log2 of a u64 (0..=63), without a division.
    let log2 = 63 - (v | 1).leading_zeros() as usize;
    (log2 * 9 + 73) >> 6
}

/// The low 56 bits of `v` as eight bytes of seven bits each (the top bit
/// of every byte clear), low group first: three steps that each split
/// every field in two.
#[inline(always)]
fn spread(v: u64) -> u64 {
    let v = v & (ONE_WORD - 1);
    let v = (v & 0x0fff_ffff) | (v & 0x00ff_ffff_f000_0000) << 4;
    let v = (v & 0x0000_3fff_0000_3fff) | (v & 0x0fff_c000_0fff_c000) << 2;
    (v & 0x007f_007f_007f_007f) | (v & 0x3f80_3f80_3f80_3f80) << 1
}

/// Writes `v` as LEB128 at `out[at..]` and returns how many bytes it
/// takes. Stores whole words: up to [`MAX_BYTES`] bytes from `at` may be
/// overwritten, so `out` needs that much room; the bytes past the number
/// are left for whatever is written next.
///
/// # Panics
///
/// When `out` has less than [`MAX_BYTES`] bytes from `at`.
#[inline(always)]
pub(crate) fn put(out: &mut [u8], at: usize, v: u64) -> usize {
    let room: &mut [u8; MAX_BYTES] = (&mut out[at..at + MAX_BYTES]).try_into().unwrap();
    if v < 0x80 {
        // Headers and timestamp steps, nearly always: a branch the
        // processor guesses right costs less than spreading a word.
        room[0] = v as u8;
        1
    } else if v < ONE_WORD {
        let n = len(v);
        let more = MORE >> (8 * (8 - n));
        room[..8].copy_from_slice(&(spread(v) | more).to_le_bytes());
        n
    } else {
        // Nine or ten bytes: eight full groups, then the top eight bits
        // as one group, or two when the highest is set.
        let top = v >> 56;
        let high = top >> 7;
        let tail = (top & 0x7f) | high << 7 | high << 8;
        room[..8].copy_from_slice(&(spread(v) | MORE | 0x80 << 56).to_le_bytes());
        room[8..].copy_from_slice(&(tail as u16).to_le_bytes());
        9 + high as usize
    }
}

/// LEB128 written the plain way, seven bits a byte, low first: what the
/// tests hold the writers to.
#[cfg(test)]
pub(crate) fn reference(mut v: u64) -> alloc::vec::Vec<u8> {
    let mut out = alloc::vec::Vec::new();
    loop {
        let byte = (v & 0x7f) as u8;
        v >>= 7;
        if v == 0 {
            out.push(byte);
            return out;
        }
        out.push(byte | 0x80);
    }
}

/// Every length's edges: 2^k - 1, 2^k and 2^k + 1, and all-ones and
/// alternating bits of every width.
#[cfg(test)]
pub(crate) fn edge_values() -> impl Iterator<Item = u64> {
    (0..64).flat_map(|bits| {
        [
            (1u64 << bits) - 1,
            1 << bits,
            (1 << bits) + 1,
            u64::MAX >> bits,
            0x5555_5555_5555_5555 >> bits,
            0xaaaa_aaaa_aaaa_aaaa >> bits,
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec::Vec;

    fn written(v: u64) -> Vec<u8> {
        // Dirty room: the bytes past the number are not the writer's to clear.
        let mut out = [0xa5; MAX_BYTES + 3];
        let n = put(&mut out, 3, v);
        assert!(
            out[..3].iter().all(|&b| b == 0xa5),
            "{v:#x}: wrote before `at`"
        );
        out[3..3 + n].to_vec()
    }

    /// The word-at-a-time writer gives the reference loop's bytes at the
    /// edges: zero, one and two bytes, 2^56 (the first past one word),
    /// 2^63 and u64::MAX (ten bytes), and zigzagged negative numbers.
    #[test]
    fn put_writes_the_reference_bytes_at_the_edges() {
        let edges = [
            0,
            1,
            127,
            128,
            16_383,
            16_384,
            (1 << 56) - 1,
            1 << 56,
            (1 << 63) - 1,
            1 << 63,
            u64::MAX - 1,
            u64::MAX,
            zigzag(-1),
            zigzag(-64),
            zigzag(-65),
            zigzag(i64::from(i32::MIN)),
            zigzag(i64::MIN),
            zigzag(i64::MAX),
        ];
        for v in edges {
            assert_eq!(written(v), reference(v), "{v:#x}");
        }
        assert_eq!(written(0), [0]);
        assert_eq!(written(128), [0x80, 0x01]);
        assert_eq!(
            written(1 << 63),
            [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01]
        );
        assert_eq!(written(zigzag(-1)), [0x01]);
        assert_eq!(written(zigzag(i64::MIN)), reference(u64::MAX));
    }

    /// Every length's edges (2^k - 1, 2^k, 2^k + 1 and the all-ones
    /// numbers of every width): the writer's bytes are the reference's,
    /// and [`len`] counts them.
    #[test]
    fn put_and_len_agree_with_the_reference_at_every_bit_width() {
        for v in edge_values() {
            let want = reference(v);
            assert_eq!(written(v), want, "{v:#x}");
            assert_eq!(len(v), want.len(), "{v:#x}");
        }
    }

    #[test]
    fn zigzag_interleaves_signs_and_unzigzag_undoes_it() {
        for (v, z) in [
            (0, 0),
            (-1, 1),
            (1, 2),
            (-2, 3),
            (i64::MAX, u64::MAX - 1),
            (i64::MIN, u64::MAX),
        ] {
            assert_eq!(zigzag(v), z);
            assert_eq!(unzigzag(z), v);
        }
    }
}
