//! The one SQLite migration runner: the device store and the server's embedded database both
//! keep their schema version in `PRAGMA user_version` and climb it one step per transaction.

use rusqlite::{Connection, Transaction, TransactionBehavior};

/// Code a step runs after its SQL, in the same transaction (a backfill, a rebuild).
pub type Hook<'a, E> = &'a dyn Fn(&Transaction<'_>) -> Result<(), E>;

/// One schema step: the version after it is its position in the list, counted from 1.
pub struct Step<'a, E> {
    pub sql: &'static str,
    pub then: Option<Hook<'a, E>>,
}

impl<E> std::fmt::Debug for Step<'_, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Step")
            .field("sql", &self.sql)
            .field("then", &self.then.is_some())
            .finish()
    }
}

impl<E> Step<'_, E> {
    pub const fn sql(sql: &'static str) -> Self {
        Step { sql, then: None }
    }
}

/// Bring `conn` to `steps.len()`, one `BEGIN IMMEDIATE` transaction per step, so a crash
/// leaves the file at a step boundary and the next open goes on from there. The version is
/// read again under the write lock: another process (a second server, the app and its
/// background sync) may have run the step meanwhile, and then it is not run twice. A file newer
/// than this build is refused with `newer(found, known)` and never touched.
pub fn migrate<E: From<rusqlite::Error>>(
    conn: &mut Connection,
    steps: &[Step<'_, E>],
    newer: impl Fn(u32, u32) -> E,
) -> Result<(), E> {
    let known = u32::try_from(steps.len()).unwrap_or(u32::MAX);
    loop {
        let version = user_version(conn)?;
        if version > known {
            return Err(newer(version, known));
        }
        let Some(step) = steps.get(version as usize) else {
            return Ok(());
        };
        let tx = conn.transaction_with_behavior(TransactionBehavior::Immediate)?;
        if user_version(&tx)? != version {
            continue;
        }
        tx.execute_batch(step.sql)?;
        if let Some(then) = step.then {
            then(&tx)?;
        }
        tx.pragma_update(None, "user_version", version + 1)?;
        tx.commit()?;
    }
}

fn user_version(conn: &Connection) -> rusqlite::Result<u32> {
    conn.query_row("PRAGMA user_version", [], |r| r.get(0))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    enum E {
        Db(String),
        Newer(u32, u32),
    }

    impl From<rusqlite::Error> for E {
        fn from(e: rusqlite::Error) -> Self {
            E::Db(e.to_string())
        }
    }

    const STEPS: &[&str] = &[
        "CREATE TABLE a (x INTEGER)",
        "ALTER TABLE a ADD COLUMN y INTEGER",
    ];

    fn steps<'a>(hook: Hook<'a, E>) -> Vec<Step<'a, E>> {
        vec![
            Step::sql(STEPS[0]),
            Step {
                sql: STEPS[1],
                then: Some(hook),
            },
        ]
    }

    #[test]
    fn each_step_runs_once_with_its_hook_and_a_newer_file_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.sqlite");
        let runs = std::cell::Cell::new(0);
        let hook = |tx: &Transaction<'_>| -> Result<(), E> {
            runs.set(runs.get() + 1);
            tx.execute("INSERT INTO a (x, y) VALUES (1, 2)", [])?;
            Ok(())
        };
        let mut conn = Connection::open(&path).unwrap();
        migrate(&mut conn, &steps(&hook), E::Newer).unwrap();
        migrate(&mut conn, &steps(&hook), E::Newer).unwrap();
        assert_eq!(runs.get(), 1);
        assert_eq!(user_version(&conn).unwrap(), 2);
        conn.pragma_update(None, "user_version", 7).unwrap();
        assert_eq!(
            migrate(&mut conn, &steps(&hook), E::Newer),
            Err(E::Newer(7, 2))
        );
    }

    #[test]
    fn a_failing_step_leaves_the_file_at_the_step_before() {
        let dir = tempfile::tempdir().unwrap();
        let mut conn = Connection::open(dir.path().join("m.sqlite")).unwrap();
        let fail = |_: &Transaction<'_>| -> Result<(), E> { Err(E::Db("hook failed".into())) };
        assert_eq!(
            migrate(&mut conn, &steps(&fail), E::Newer),
            Err(E::Db("hook failed".into()))
        );
        assert_eq!(user_version(&conn).unwrap(), 1);
        // The step's SQL rolled back with its hook: running again does it whole.
        let ok = |_: &Transaction<'_>| -> Result<(), E> { Ok(()) };
        migrate(&mut conn, &steps(&ok), E::Newer).unwrap();
        assert_eq!(user_version(&conn).unwrap(), 2);
    }
}
