//! Edits of a JSON value's nodes (a manifest or config object): a field or
//! item removed, replaced, renamed, repeated, or another node's scalar
//! copied over it. The strategy stays in each test: which edits, how often,
//! and the odd values a replacement writes are what it is fuzzing for.

use proptest::sample::Index;
use serde_json::Value;

/// One change to a node of a value; the first [`Index`] picks the node
/// (in document order, the root excluded).
#[derive(Debug, Clone)]
pub enum ObjectEdit {
    /// Remove the node from its object or list.
    Remove(Index),
    /// Replace the node.
    Replace(Index, Value),
    /// Move the node to this key of its object (a list item is removed).
    Rename(Index, String),
    /// Repeat a list's items (or wrap a value in a list) up to n items.
    Repeat(Index, usize),
    /// Copy the second node over the first if both are scalars of the same
    /// type (a name, port or weight taken from elsewhere): such objects
    /// mostly stay valid, so this reaches what runs after parsing with
    /// crossed references.
    Copy(Index, Index),
}

/// Every node of `v`, as (JSON pointer, parent pointer, key in the parent).
fn nodes(v: &Value, at: &str, out: &mut Vec<(String, String, String)>) {
    let children: Vec<(String, &Value)> = match v {
        Value::Object(m) => m.iter().map(|(k, c)| (k.clone(), c)).collect(),
        Value::Array(a) => a
            .iter()
            .enumerate()
            .map(|(i, c)| (i.to_string(), c))
            .collect(),
        _ => return,
    };
    for (key, child) in children {
        let path = format!("{at}/{}", key.replace('~', "~0").replace('/', "~1"));
        out.push((path.clone(), at.to_string(), key));
        nodes(child, &path, out);
    }
}

/// Applies `edit` to `v`; a value without nodes (a scalar, an empty
/// object or list) is left as it is.
pub fn apply_object_edit(v: &mut Value, edit: &ObjectEdit) {
    let mut all = Vec::new();
    nodes(v, "", &mut all);
    if all.is_empty() {
        return;
    }
    let index = match edit {
        ObjectEdit::Remove(i)
        | ObjectEdit::Replace(i, _)
        | ObjectEdit::Rename(i, _)
        | ObjectEdit::Repeat(i, _)
        | ObjectEdit::Copy(i, _) => i,
    };
    let (path, parent, key) = all[index.index(all.len())].clone();
    match edit {
        ObjectEdit::Remove(_) | ObjectEdit::Rename(..) => {
            let removed = match v.pointer_mut(&parent) {
                Some(Value::Object(m)) => m.remove(&key),
                Some(Value::Array(a)) => Some(a.remove(key.parse().unwrap())),
                _ => None,
            };
            if let (ObjectEdit::Rename(_, new), Some(value), Some(Value::Object(m))) =
                (edit, removed, v.pointer_mut(&parent))
            {
                m.insert(new.clone(), value);
            }
        }
        ObjectEdit::Replace(_, value) => *v.pointer_mut(&path).unwrap() = value.clone(),
        ObjectEdit::Repeat(_, n) => {
            let node = v.pointer_mut(&path).unwrap();
            let items = match node.take() {
                Value::Array(a) if !a.is_empty() => a,
                Value::Array(_) => vec![Value::Null],
                other => vec![other],
            };
            *node = Value::Array(items.iter().cycle().take(*n).cloned().collect());
        }
        ObjectEdit::Copy(_, from) => {
            let source = v.pointer(&all[from.index(all.len())].0).unwrap().clone();
            let target = v.pointer_mut(&path).unwrap();
            let same = matches!(
                (&source, &*target),
                (Value::String(_), Value::String(_))
                    | (Value::Number(_), Value::Number(_))
                    | (Value::Bool(_), Value::Bool(_))
            );
            if same {
                *target = source;
            }
        }
    }
}
