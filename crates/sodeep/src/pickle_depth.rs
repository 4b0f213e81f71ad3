//! How deep a pickle's stack grows, read from its opcodes without building any object.
//!
//! candle's pickle reader builds nested objects recursively, so a hostile checkpoint (a list
//! nested 200,000 deep) overflows the thread's stack. [`max_depth`] walks the opcodes once,
//! tracking the stack height and the marks, so that such a file is refused before candle
//! reads it. Opcodes and their argument sizes are those of Python's `pickletools`.

/// The deepest stack accepted in a checkpoint's pickle. A `state_dict` stays far below it:
/// PyTorch writes dictionary items in batches of 1,000, so its stack holds about 2,000
/// entries at most.
pub const MAX_DEPTH: usize = 10_000;

/// The largest stack height (values and marks) reached by the pickle in `bytes`, or an error
/// that says why the opcodes cannot be followed. Stops at `STOP` or at the end.
pub fn max_depth(bytes: &[u8]) -> Result<usize, String> {
    let mut depth: usize = 0;
    let mut deepest: usize = 0;
    let mut marks: Vec<usize> = Vec::new();
    let mut i = 0;
    let take = |i: &mut usize, n: usize| -> Result<(), String> {
        if *i + n > bytes.len() {
            return Err("the pickle ends inside an opcode's argument".into());
        }
        *i += n;
        Ok(())
    };
    let line = |i: &mut usize| -> Result<(), String> {
        match bytes[*i..].iter().position(|&b| b == b'\n') {
            Some(p) => {
                *i += p + 1;
                Ok(())
            }
            None => Err("the pickle ends inside a text argument".into()),
        }
    };
    let len_arg = |i: &mut usize, width: usize| -> Result<usize, String> {
        if *i + width > bytes.len() {
            return Err("the pickle ends inside a length".into());
        }
        let mut v: u64 = 0;
        for (k, &b) in bytes[*i..*i + width].iter().enumerate() {
            v |= (b as u64) << (8 * k);
        }
        *i += width;
        usize::try_from(v).map_err(|_| "a length does not fit in memory".to_string())
    };
    while i < bytes.len() {
        let op = bytes[i];
        i += 1;
        // (pops, pushes) for ordinary opcodes; marks are handled apart
        let (pops, pushes): (usize, usize) = match op {
            b'.' => break, // STOP
            0x80 => {
                take(&mut i, 1)?;
                (0, 0)
            } // PROTO
            0x95 => {
                take(&mut i, 8)?;
                (0, 0)
            } // FRAME
            b'(' => {
                // MARK
                marks.push(depth);
                depth += 1;
                deepest = deepest.max(depth);
                continue;
            }
            // pop everything down to the last mark, then push one result (or none)
            b't' | b'l' | b'd' | 0x91 | b'o' | b'e' | b'u' | 0x90 | b'1' => {
                let at = marks
                    .pop()
                    .ok_or("an opcode needs a mark that is not there")?;
                depth = at;
                match op {
                    b't' | b'l' | b'd' | 0x91 | b'o' => depth += 1, // a new object
                    b'e' | b'u' | 0x90 => {}                        // into the object below
                    _ => {}                                         // POP_MARK
                }
                deepest = deepest.max(depth);
                continue;
            }
            b'i' => {
                // INST: two lines, pop to mark
                line(&mut i)?;
                line(&mut i)?;
                let at = marks.pop().ok_or("INST needs a mark that is not there")?;
                depth = at + 1;
                continue;
            }
            b'}' | b']' | b')' | 0x8f | b'N' | 0x88 | 0x89 => (0, 1),
            b'K' => {
                take(&mut i, 1)?;
                (0, 1)
            }
            b'M' => {
                take(&mut i, 2)?;
                (0, 1)
            }
            b'J' => {
                take(&mut i, 4)?;
                (0, 1)
            }
            b'G' => {
                take(&mut i, 8)?;
                (0, 1)
            }
            0x8a | b'U' | b'C' | 0x8c => {
                let n = len_arg(&mut i, 1)?;
                take(&mut i, n)?;
                (0, 1)
            }
            0x8b | b'T' | b'B' | b'X' => {
                let n = len_arg(&mut i, 4)?;
                take(&mut i, n)?;
                (0, 1)
            }
            0x8d | 0x8e | 0x96 => {
                let n = len_arg(&mut i, 8)?;
                take(&mut i, n)?;
                (0, 1)
            }
            b'I' | b'L' | b'F' | b'S' | b'V' | b'P' | b'g' => {
                line(&mut i)?;
                (0, 1)
            }
            b'c' => {
                line(&mut i)?;
                line(&mut i)?;
                (0, 1)
            } // GLOBAL
            b'h' => {
                take(&mut i, 1)?;
                (0, 1)
            } // BINGET
            b'j' => {
                take(&mut i, 4)?;
                (0, 1)
            } // LONG_BINGET
            0x82 => {
                take(&mut i, 1)?;
                (0, 1)
            } // EXT1
            0x83 => {
                take(&mut i, 2)?;
                (0, 1)
            } // EXT2
            0x84 => {
                take(&mut i, 4)?;
                (0, 1)
            } // EXT4
            b'2' => (0, 1), // DUP
            b'p' => {
                line(&mut i)?;
                (0, 0)
            } // PUT
            b'q' => {
                take(&mut i, 1)?;
                (0, 0)
            } // BINPUT
            b'r' => {
                take(&mut i, 4)?;
                (0, 0)
            } // LONG_BINPUT
            0x94 | 0x97 | 0x98 => (0, 0), // MEMOIZE, buffers
            b'0' => (1, 0), // POP
            b'Q' | 0x85 => (1, 1), // BINPERSID, TUPLE1
            b'R' | b'b' | 0x81 | 0x93 | 0x86 | b'a' => (2, 1), // REDUCE, BUILD, NEWOBJ, STACK_GLOBAL, TUPLE2, APPEND
            0x87 | b's' | 0x92 => (3, 1),                      // TUPLE3, SETITEM, NEWOBJ_EX
            other => return Err(format!("unknown pickle opcode 0x{other:02x}")),
        };
        // APPEND and SETITEM leave the container, which counts as the one pushed back
        depth = depth.saturating_sub(pops) + pushes;
        deepest = deepest.max(depth);
    }
    Ok(deepest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_lists_are_deep_and_state_dicts_shallow() {
        // pickle.dumps([[[]]], protocol=2): PROTO 2, ], ], ], a, a, .
        let nested = [0x80, 2, b']', b']', b']', b'a', b'a', b'.'];
        assert_eq!(max_depth(&nested), Ok(3));
        let mut deep = vec![0x80, 2];
        deep.extend(std::iter::repeat_n(b']', 200_000));
        deep.extend(std::iter::repeat_n(b'a', 199_999));
        deep.push(b'.');
        assert_eq!(max_depth(&deep), Ok(200_000));
        // {'a': 1, 'b': 2}: }, MARK, X'a', K1, X'b', K2, SETITEMS, STOP
        let dict = [
            0x80, 2, b'}', b'(', b'X', 1, 0, 0, 0, b'a', b'K', 1, b'X', 1, 0, 0, 0, b'b', b'K', 2,
            b'u', b'.',
        ];
        assert_eq!(max_depth(&dict), Ok(6));
        assert!(max_depth(&[b'X', 9, 0, 0, 0, b'a']).is_err());
        assert!(max_depth(b"u").is_err());
        assert!(max_depth(&[0xff]).is_err());
    }
}
