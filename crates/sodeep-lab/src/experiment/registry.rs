//! The experiments that `sodeep experiment NAME` and `sodeep reproduce` know, in report order.
//!
//! Adding an experiment is one file that implements [`Task`] and one line in [`BUILTIN`]. A
//! program that links the lab can also [`register`] a task of its own at run time, which the
//! `experiment` command's options then find by name like the built-in ones.

use std::sync::RwLock;

use super::ltr::Ltr;
use super::map::Map;
use super::retrieval::Retrieval;
use super::spearman::Spearman;
use super::task::Task;
use crate::error::{Error, Result};

/// The built-in experiments, in report order.
pub const BUILTIN: [&'static dyn Task; 4] = [&Spearman, &Map, &Retrieval, &Ltr];

/// Tasks registered at run time, after the built-in ones.
static EXTRA: RwLock<Vec<&'static dyn Task>> = RwLock::new(Vec::new());

/// Every known task: the built-in ones, then those registered.
pub fn all() -> Vec<&'static dyn Task> {
    let extra = EXTRA.read().unwrap_or_else(|e| e.into_inner());
    BUILTIN
        .iter()
        .copied()
        .chain(extra.iter().copied())
        .collect()
}

/// Makes `task` known by its name; a name already taken is an error.
pub fn register(task: &'static dyn Task) -> Result<()> {
    if find(task.name()).is_ok() {
        return Err(Error::InvalidArgument(format!(
            "an experiment named '{}' is already registered",
            task.name()
        )));
    }
    EXTRA.write().unwrap_or_else(|e| e.into_inner()).push(task);
    Ok(())
}

/// The task named `name`.
///
/// ```
/// use sodeep_lab::experiment::registry;
///
/// assert_eq!(registry::find("ltr").unwrap().metric(), "ndcg10");
/// assert!(registry::find("nope").unwrap_err().to_string().contains("spearman, map, retrieval or ltr"));
/// ```
pub fn find(name: &str) -> Result<&'static dyn Task> {
    let tasks = all();
    tasks
        .iter()
        .copied()
        .find(|t| t.name() == name)
        .ok_or_else(|| {
            let names: Vec<&str> = tasks.iter().map(|t| t.name()).collect();
            let list = match names.split_last() {
                Some((last, rest)) if !rest.is_empty() => format!("{} or {last}", rest.join(", ")),
                _ => names.join(""),
            };
            Error::InvalidArgument(format!("unknown task '{name}': use {list}"))
        })
}
