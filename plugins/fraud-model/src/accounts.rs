//! The accounts of a stream, by id: the one lookup every scored transaction makes.

use std::fmt;
use std::hash::BuildHasher;

use hashbrown::HashTable;
use serde::de::{MapAccess, Visitor};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::AccountState;

/// Account id → history, hashed.
///
/// Hashed rather than ordered: an ordered map compared the id with a dozen others per
/// lookup. Ids are compared by [`same`] (eight bytes at a time, inline) rather than by `==`,
/// whose `memcmp` is a byte loop in wasi-libc: in Wasm it was the largest single cost of
/// scoring. foldhash is seeded at start-up (clock and addresses), so ids crafted in advance
/// do not pile into one bucket.
///
/// Serialized as a JSON object with the ids sorted: snapshots are reproducible, and they are
/// the JSON that earlier versions (an ordered map) wrote and read.
#[derive(Clone, Default)]
pub struct Accounts {
    table: HashTable<(String, AccountState)>,
    hasher: foldhash::fast::RandomState,
}

impl Accounts {
    pub fn len(&self) -> usize {
        self.table.len()
    }

    pub fn is_empty(&self) -> bool {
        self.table.is_empty()
    }

    pub fn get(&self, id: &str) -> Option<&AccountState> {
        self.table.find(self.hasher.hash_one(id), |(k, _)| same(k, id)).map(|(_, v)| v)
    }

    /// The account's history, created empty for an id seen for the first time (the only
    /// case that copies the id).
    pub fn entry(&mut self, id: &str) -> &mut AccountState {
        let hash = self.hasher.hash_one(id);
        let hasher = &self.hasher;
        let (_, state) = self
            .table
            .entry(hash, |(k, _)| same(k, id), |(k, _)| hasher.hash_one(k.as_str()))
            .or_insert_with(|| (id.to_string(), AccountState::default()))
            .into_mut();
        state
    }

    /// Every account, in no particular order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &AccountState)> {
        self.table.iter().map(|(k, v)| (k.as_str(), v))
    }

    fn sorted(&self) -> Vec<(&str, &AccountState)> {
        let mut entries: Vec<_> = self.iter().collect();
        entries.sort_unstable_by(|a, b| a.0.cmp(b.0));
        entries
    }
}

/// Whether two ids are the same text. Inline, a word at a time: in Wasm `==` on strings calls
/// wasi-libc's `memcmp`, a loop over single bytes.
#[inline]
pub fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if n >= 8 {
        let word = |s: &[u8], at: usize| u64::from_ne_bytes(s[at..at + 8].try_into().expect("8 bytes"));
        // Words at 0, 8, …; the last one ends at n (it may overlap the one before).
        let mut at = 0;
        while at + 8 < n {
            if word(a, at) != word(b, at) {
                return false;
            }
            at += 8;
        }
        word(a, n - 8) == word(b, n - 8)
    } else if n >= 4 {
        let word = |s: &[u8], at: usize| u32::from_ne_bytes(s[at..at + 4].try_into().expect("4 bytes"));
        word(a, 0) == word(b, 0) && word(a, n - 4) == word(b, n - 4)
    } else {
        (0..n).all(|i| a[i] == b[i])
    }
}

impl PartialEq for Accounts {
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().all(|(id, state)| other.get(id) == Some(state))
    }
}

impl fmt::Debug for Accounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.sorted()).finish()
    }
}

impl Serialize for Accounts {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.sorted())
    }
}

impl<'de> Deserialize<'de> for Accounts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct AccountsVisitor;
        impl<'de> Visitor<'de> for AccountsVisitor {
            type Value = Accounts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object of account id → account state")
            }
            fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<Accounts, M::Error> {
                let mut accounts = Accounts::default();
                while let Some((id, state)) = map.next_entry::<String, AccountState>()? {
                    // A repeated id keeps its last value, as a map read would.
                    *accounts.entry(&id) = state;
                }
                Ok(accounts)
            }
        }
        d.deserialize_map(AccountsVisitor)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_agrees_with_equality_at_every_length_and_position() {
        let base: Vec<u8> = (0..40u8).map(|i| b'a' + i % 26).collect();
        for len in 0..base.len() {
            let a = std::str::from_utf8(&base[..len]).unwrap();
            assert!(same(a, a));
            assert!(!same(a, std::str::from_utf8(&base[..len + 1]).unwrap()));
            for at in 0..len {
                let mut other = base[..len].to_vec();
                other[at] = b'#';
                assert!(!same(a, std::str::from_utf8(&other).unwrap()), "len {len}, at {at}");
            }
        }
    }

    #[test]
    fn lookups_find_what_was_entered_and_nothing_else() {
        let mut accounts = Accounts::default();
        for i in 0..500 {
            accounts.entry(&format!("ACC-{i:05}")).count = i;
        }
        assert_eq!(accounts.len(), 500);
        for i in 0..500 {
            assert_eq!(accounts.get(&format!("ACC-{i:05}")).map(|a| a.count), Some(i));
        }
        assert!(accounts.get("ACC-00500").is_none());
        assert!(accounts.get("ACC-0000").is_none());
        accounts.entry("ACC-00007").count += 1;
        assert_eq!((accounts.len(), accounts.get("ACC-00007").unwrap().count), (500, 8));
    }
}
