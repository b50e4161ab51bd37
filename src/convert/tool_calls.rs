//! The tool calls of one assistant turn and whether each got its result:
//! both client protocols require every call to be answered in the turn right
//! after it, and every answer to name a call of the turn right before.
//! Linear: each id goes in and out of a map once.

use std::collections::HashMap;

/// The calls asked at message `at`, in order, and which were answered.
#[derive(Default)]
pub struct Asked<'m> {
    at: usize,
    order: Vec<&'m str>,
    answered: HashMap<&'m str, bool>,
}

impl<'m> Asked<'m> {
    /// The calls of the assistant message at index `at` (none yet).
    pub fn at(index: usize) -> Asked<'m> {
        Asked {
            at: index,
            ..Asked::default()
        }
    }

    pub fn ask(&mut self, id: Option<&'m str>) {
        if let Some(id) = id {
            self.order.push(id);
            self.answered.insert(id, false);
        }
    }

    /// False when `id` was not asked.
    pub fn answer(&mut self, id: &str) -> bool {
        self.answered.get_mut(id).map(|done| *done = true).is_some()
    }

    /// The index of the asking message and the first call left unanswered.
    pub fn unanswered(&self) -> Option<(usize, &'m str)> {
        self.order
            .iter()
            .find(|id| self.answered.get(*id) == Some(&false))
            .map(|id| (self.at, *id))
    }
}

#[cfg(test)]
mod tests {
    use super::Asked;

    #[test]
    fn the_first_unanswered_call_is_named_with_its_turn() {
        let mut asked = Asked::at(3);
        asked.ask(Some("a"));
        asked.ask(None);
        asked.ask(Some("b"));
        assert_eq!(asked.unanswered(), Some((3, "a")));
        assert!(asked.answer("a"));
        assert!(!asked.answer("c"));
        assert_eq!(asked.unanswered(), Some((3, "b")));
        assert!(asked.answer("b"));
        assert_eq!(asked.unanswered(), None);
    }
}
