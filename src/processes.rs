//! The one table of the processes drainit started, pid -> role, so that a
//! reaped pid is routed by lookup, never by guess. Everything else that
//! `waitpid(-1)` returns is an adopted orphan.

/// What a process drainit started is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// COMMAND, the child drainit supervises.
    App,
    /// The drain hook; `killed` once drainit killed it, so that its end is
    /// no news.
    Hook { killed: bool },
    /// A name lookup (`resolve`), killed when no longer wanted.
    Resolver,
}

/// The processes drainit started and has not reaped yet: a handful at
/// most (the app, a hook, one lookup per exchange), so a vector.
#[derive(Debug, Default)]
pub struct Processes {
    table: Vec<(libc::pid_t, Role)>,
}

impl Processes {
    /// Records a started process.
    pub fn insert(&mut self, pid: libc::pid_t, role: Role) {
        self.table.push((pid, role));
    }

    /// The role of a reaped pid, which leaves the table; `None` for an
    /// orphan drainit adopted.
    pub fn remove(&mut self, pid: libc::pid_t) -> Option<Role> {
        let i = self.table.iter().position(|&(p, _)| p == pid)?;
        Some(self.table.swap_remove(i).1)
    }

    /// Whether `pid` is in the table (started and not reaped).
    pub fn contains(&self, pid: libc::pid_t) -> bool {
        self.table.iter().any(|&(p, _)| p == pid)
    }

    /// The running drain hook's pid, which is also its group's id.
    pub fn hook(&self) -> Option<libc::pid_t> {
        self.table
            .iter()
            .find(|(_, role)| matches!(role, Role::Hook { .. }))
            .map(|&(pid, _)| pid)
    }

    /// Marks the drain hook killed: its end is then logged as expected.
    pub fn hook_killed(&mut self) {
        for (_, role) in &mut self.table {
            if let Role::Hook { killed } = role {
                *killed = true;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reaped_pid_is_routed_by_its_role_and_leaves_the_table() {
        let mut p = Processes::default();
        p.insert(10, Role::App);
        p.insert(11, Role::Hook { killed: false });
        p.insert(12, Role::Resolver);
        assert_eq!(p.hook(), Some(11));
        p.hook_killed();
        assert_eq!(p.remove(11), Some(Role::Hook { killed: true }));
        assert_eq!(p.hook(), None);
        assert_eq!(p.remove(99), None);
        assert!(p.contains(10) && p.contains(12));
        assert_eq!(p.remove(12), Some(Role::Resolver));
        assert_eq!(p.remove(12), None);
        assert_eq!(p.remove(10), Some(Role::App));
        assert!(!p.contains(10));
    }
}
