//! The one stretch in which two texts differ, in UTF-16 code units (how Yjs and the browser
//! count): what a shared-text edit replaces, and how a caret is carried across a remote change.

/// `old[start..old_end]` became `new[start..new_end]`; the rest is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stretch {
    pub start: usize,
    pub old_end: usize,
    pub new_end: usize,
}

fn high_surrogate(u: u16) -> bool {
    (0xD800..0xDC00).contains(&u)
}

fn low_surrogate(u: u16) -> bool {
    (0xDC00..0xE000).contains(&u)
}

/// The longest common prefix and suffix of `old` and `new` set aside (never splitting a
/// surrogate pair), what is left between them.
pub fn changed_stretch(old: &[u16], new: &[u16]) -> Stretch {
    let mut start = old.iter().zip(new).take_while(|(a, b)| a == b).count();
    if start > 0 && high_surrogate(old[start - 1]) {
        start -= 1;
    }
    let room = old.len().min(new.len()) - start;
    let mut suffix =
        old.iter().rev().zip(new.iter().rev()).take(room).take_while(|(a, b)| a == b).count();
    if suffix > 0 && low_surrogate(old[old.len() - suffix]) {
        suffix -= 1;
    }
    Stretch { start, old_end: old.len() - suffix, new_end: new.len() - suffix }
}

impl Stretch {
    /// Where a position in the old text is in the new one: before the stretch it stays, after
    /// it moves by the change in length, inside it goes to the stretch's new end.
    pub fn map(&self, i: usize) -> usize {
        if i <= self.start {
            i
        } else if i >= self.old_end {
            i + self.new_end - self.old_end
        } else {
            self.new_end
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn u(s: &str) -> Vec<u16> {
        s.encode_utf16().collect()
    }

    #[test]
    fn finds_the_one_changed_stretch() {
        let s = changed_stretch(&u("A notes app."), &u("A shared notes app."));
        assert_eq!(s, Stretch { start: 2, old_end: 2, new_end: 9 });
        assert_eq!((s.map(0), s.map(2), s.map(12)), (0, 2, 19));
        let s = changed_stretch(&u("abc"), &u("abc"));
        assert_eq!(s, Stretch { start: 3, old_end: 3, new_end: 3 });
    }

    #[test]
    fn never_splits_a_surrogate_pair() {
        // 😀 and 😁 share their high surrogate.
        let s = changed_stretch(&u("x😀y"), &u("x😁y"));
        assert_eq!(s, Stretch { start: 1, old_end: 3, new_end: 3 });
    }
}
