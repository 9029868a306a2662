//! Places in a scenario file: [`Pos`] (line and column as a person counts them) and the
//! [`Shift`]s `${VAR}` substitution made on a line, which map a place in the substituted text
//! back to the file as written (read by `locate.rs`, made by `interpolate.rs`).

/// A 1-based line and column (in characters). `Pos::default()` (0:0) means "unknown".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pos {
    pub line: usize,
    pub col: usize,
}

/// A column change on one line: `old_len` characters at `old_col` became `new_len` at `new_col`
/// (0-based, characters).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Shift {
    pub new_col: usize,
    pub new_len: usize,
    pub old_col: usize,
    pub old_len: usize,
}

/// Map a 1-based position in the substituted text back to the file as written.
pub(crate) fn original_pos(shifts: &[Vec<Shift>], pos: Pos) -> Pos {
    let Some(line) = pos.line.checked_sub(1).and_then(|l| shifts.get(l)) else {
        return pos;
    };
    let col = pos.col.saturating_sub(1);
    let mut delta: isize = 0;
    for s in line {
        if col < s.new_col {
            break;
        }
        if col < s.new_col + s.new_len {
            return Pos {
                line: pos.line,
                col: s.old_col + 1,
            };
        }
        delta += s.old_len as isize - s.new_len as isize;
    }
    Pos {
        line: pos.line,
        col: (col as isize + delta).max(0) as usize + 1,
    }
}
