//! Filling in `lastTransitionTime`, the one clock-dependent status field.

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use super::{Condition, ConditionType, StatusDocument};

/// Stamps every condition of `new` with a `lastTransitionTime`: the
/// previous time when the same object's condition of the same type, at the
/// same place (object, listener by name, route parent by parentRef and
/// controllerName), had the same status (True/False/Unknown) and a time;
/// `now` otherwise. A changed reason or message alone is not a transition,
/// as in `meta.SetStatusCondition`.
pub fn stamp(
    previous: &[StatusDocument],
    mut new: Vec<StatusDocument>,
    now: &Time,
) -> Vec<StatusDocument> {
    let mut before: BTreeMap<(String, String), Vec<Condition>> = BTreeMap::new();
    for doc in previous {
        let mut doc = doc.clone();
        let id = identity(&doc);
        for (place, conditions) in doc.condition_lists_mut() {
            before.insert((id.clone(), place), conditions.clone());
        }
    }
    for doc in &mut new {
        let id = identity(doc);
        for (place, conditions) in doc.condition_lists_mut() {
            let old = before.get(&(id.clone(), place));
            for condition in conditions.iter_mut() {
                let time = previous_time(old, condition.type_, condition);
                condition.last_transition_time = Some(time.unwrap_or_else(|| now.clone()));
            }
        }
    }
    new
}

fn identity(doc: &StatusDocument) -> String {
    format!(
        "{}/{}/{}",
        doc.kind.as_str(),
        doc.metadata.namespace.as_deref().unwrap_or(""),
        doc.metadata.name
    )
}

fn previous_time(
    old: Option<&Vec<Condition>>,
    type_: ConditionType,
    new: &Condition,
) -> Option<Time> {
    old?.iter()
        .find(|c| c.type_ == type_ && c.status == new.status)
        .and_then(|c| c.last_transition_time.clone())
}
