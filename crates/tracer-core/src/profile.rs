//! What a trace adds up to: per-function totals (calls, total, self, min,
//! max time), the call tree with counts and times, and folded stacks for
//! flame graphs. Each is built in one pass over the events.

use crate::event::{Event, EventKind};
use alloc::collections::BTreeMap;
use alloc::string::String;
use alloc::vec::Vec;

/// Totals of one function.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct FunctionStats {
    /// Its name.
    pub name: String,
    /// Entries seen.
    pub calls: u64,
    /// Time inside it, callees included (recursive calls count again).
    pub total_us: u64,
    /// Time inside it, callees excluded.
    pub self_us: u64,
    /// Shortest call.
    pub min_us: u64,
    /// Longest call.
    pub max_us: u64,
}

impl FunctionStats {
    /// Mean call time.
    pub fn avg_us(&self) -> u64 {
        self.total_us.checked_div(self.calls).unwrap_or(0)
    }
}

#[derive(Debug)]
struct Frame {
    id: u32,
    node: usize,
    children_us: u64,
}

/// One call path of the tree.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Node {
    /// Function id (meaningless for the root).
    pub id: u32,
    /// Calls along this path.
    pub calls: u64,
    /// Time in those calls, callees included.
    pub total_us: u64,
    /// Time in those calls, callees excluded.
    pub self_us: u64,
    /// Children, by function id.
    pub children: BTreeMap<u32, usize>,
}

/// Builds the report, the call tree and folded stacks from events.
#[derive(Debug)]
pub struct Profile {
    /// Per function id.
    pub functions: Vec<FunctionStats>,
    /// Call tree nodes; node 0 is the root.
    pub nodes: Vec<Node>,
    stack: Vec<Frame>,
}

impl Profile {
    /// An empty profile for `names` (function names by id).
    pub fn new(names: impl Iterator<Item = String>) -> Profile {
        Profile {
            functions: names
                .map(|name| FunctionStats {
                    name,
                    min_us: u64::MAX,
                    ..Default::default()
                })
                .collect(),
            nodes: alloc::vec![Node::default()],
            stack: Vec::new(),
        }
    }

    /// Takes one event.
    pub fn event(&mut self, e: &Event<'_>) {
        match e.kind {
            EventKind::Enter => {
                let parent = self.stack.last().map_or(0, |f| f.node);
                let next = self.nodes.len();
                let node = *self.nodes[parent].children.entry(e.id).or_insert(next);
                if node == next {
                    self.nodes.push(Node {
                        id: e.id,
                        ..Node::default()
                    });
                }
                self.nodes[node].calls += 1;
                if let Some(f) = self.functions.get_mut(e.id as usize) {
                    f.calls += 1;
                }
                self.stack.push(Frame {
                    id: e.id,
                    node,
                    children_us: 0,
                });
            }
            _ => {
                // An exit whose entry was not kept has nothing to add to.
                let Some(frame) = self.stack.pop() else {
                    return;
                };
                let d = e.duration_us.unwrap_or(0);
                let own = d.saturating_sub(frame.children_us);
                if let Some(parent) = self.stack.last_mut() {
                    parent.children_us += d;
                } else {
                    self.nodes[0].total_us += d;
                }
                let n = &mut self.nodes[frame.node];
                n.total_us += d;
                n.self_us += own;
                if let Some(f) = self.functions.get_mut(frame.id as usize) {
                    f.total_us += d;
                    f.self_us += own;
                    f.min_us = f.min_us.min(d);
                    f.max_us = f.max_us.max(d);
                }
            }
        }
    }

    /// Functions that were called, without the unset minimum of the others.
    pub fn report(&self) -> Vec<FunctionStats> {
        self.functions
            .iter()
            .filter(|f| f.calls > 0)
            .cloned()
            .collect()
    }

    /// Time of the outermost calls, which every self time adds up to.
    pub fn root_total_us(&self) -> u64 {
        self.nodes[0].total_us
    }

    /// Folded stacks, `a;b;c self_us`, one line per call path, for flame
    /// graph tools. Paths with no time get 1 µs per call, so untimed
    /// traces still show their shape.
    pub fn folded(&self, timed: bool) -> String {
        let mut out = String::new();
        let mut path: Vec<&str> = Vec::new();
        self.fold(0, &mut path, timed, &mut out);
        out
    }

    fn fold<'a>(&'a self, node: usize, path: &mut Vec<&'a str>, timed: bool, out: &mut String) {
        use core::fmt::Write;
        let n = &self.nodes[node];
        if node != 0 {
            path.push(
                self.functions
                    .get(n.id as usize)
                    .map_or("?", |f| f.name.as_str()),
            );
            let weight = if timed { n.self_us } else { n.calls };
            if weight > 0 {
                let _ = writeln!(out, "{} {weight}", path.join(";"));
            }
        }
        for &child in n.children.values() {
            self.fold(child, path, timed, out);
        }
        if node != 0 {
            path.pop();
        }
    }
}
