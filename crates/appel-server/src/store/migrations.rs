//! The database schema as an ordered list of migrations, applied once each and tracked in
//! `schema_version`. Published migrations are never edited: a change is a new entry at the end.

use rusqlite::Connection;

/// Every migration, oldest first. The schema version is the number of migrations applied.
const MIGRATIONS: &[&str] = &[
    // 1: identities, token revocations, registrations, call records.
    "CREATE TABLE identities (
        id TEXT PRIMARY KEY,
        created_ms INTEGER NOT NULL,
        deleted_ms INTEGER
    );
    CREATE TABLE token_revocations (
        identity TEXT PRIMARY KEY REFERENCES identities(id),
        revoked_before_ms INTEGER NOT NULL
    );
    CREATE TABLE registrations (
        identity TEXT PRIMARY KEY,
        first_ms INTEGER NOT NULL,
        push_url TEXT
    );
    CREATE TABLE calls (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        caller TEXT NOT NULL,
        targets TEXT NOT NULL,
        created_ms INTEGER NOT NULL,
        ended_ms INTEGER,
        end_code INTEGER,
        end_subcode INTEGER
    );
    CREATE TABLE legs (
        call_id TEXT NOT NULL,
        participant_id TEXT NOT NULL,
        endpoint_id TEXT,
        identity TEXT NOT NULL,
        joined_ms INTEGER NOT NULL,
        left_ms INTEGER,
        duration_ms INTEGER,
        code INTEGER,
        subcode INTEGER,
        result_category TEXT,
        raw_cause TEXT,
        PRIMARY KEY (call_id, participant_id)
    );
    CREATE INDEX legs_identity ON legs(identity);
    CREATE INDEX legs_reason ON legs(code, subcode);
    CREATE TABLE timeline (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id TEXT NOT NULL,
        at_ms INTEGER NOT NULL,
        kind TEXT NOT NULL,
        detail TEXT
    );
    CREATE INDEX timeline_call ON timeline(call_id, seq);",
    // 2: rooms and their rosters, webhook subscriptions and the delivery log.
    "CREATE TABLE rooms (
        id TEXT PRIMARY KEY,
        valid_from_ms INTEGER NOT NULL,
        valid_until_ms INTEGER NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE room_participants (
        room_id TEXT NOT NULL,
        identity TEXT NOT NULL,
        role TEXT NOT NULL,
        PRIMARY KEY (room_id, identity)
    );
    CREATE TABLE webhook_subscriptions (
        id TEXT PRIMARY KEY,
        url TEXT NOT NULL,
        secret TEXT NOT NULL,
        events TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE TABLE webhook_deliveries (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        subscription_id TEXT NOT NULL,
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        attempt INTEGER NOT NULL,
        at_ms INTEGER NOT NULL,
        status INTEGER,
        error TEXT,
        delivered INTEGER NOT NULL
    );
    CREATE INDEX webhook_deliveries_subscription ON webhook_deliveries(subscription_id, seq);",
    // 3: each identity's token generation; revoking bumps it and tokens carry the one they were
    // issued in, so revocation no longer depends on the dates a token claims.
    "ALTER TABLE identities ADD COLUMN token_generation INTEGER NOT NULL DEFAULT 0;",
    // 4: the webhook outbox (one row per event and subscriber until the receiver accepts it) and the
    // records writer's "last alive" mark, which dates the calls a crash left open; a call's last
    // webhook sequence number, so the events that close it after a crash continue its numbering.
    "CREATE TABLE webhook_outbox (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        subscription_id TEXT NOT NULL,
        call_id TEXT NOT NULL,
        call_seq INTEGER NOT NULL,
        event_id TEXT NOT NULL,
        event_type TEXT NOT NULL,
        body TEXT NOT NULL,
        created_ms INTEGER NOT NULL
    );
    CREATE INDEX webhook_outbox_lane ON webhook_outbox(subscription_id, call_id, seq);
    CREATE TABLE server_alive (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        last_ms INTEGER
    );
    INSERT INTO server_alive (id, last_ms) VALUES (1, NULL);
    ALTER TABLE calls ADD COLUMN webhook_seq INTEGER;",
    // 5: a display name per identity, and its search key (lower case, accents removed: see
    // `name_key`), which orders and finds live identities by name.
    "ALTER TABLE identities ADD COLUMN display_name TEXT;
    ALTER TABLE identities ADD COLUMN name_key TEXT;
    CREATE INDEX identities_by_name ON identities(name_key, id) WHERE deleted_ms IS NULL;",
    // 6: identity providers trusted over REST (docs/identities.md); those of the config file are
    // not stored. `jwks` holds a static key set, NULL when the keys are fetched.
    "CREATE TABLE federation_issuers (
        id TEXT PRIMARY KEY,
        issuer TEXT NOT NULL UNIQUE,
        audience TEXT NOT NULL,
        user_claim TEXT NOT NULL,
        calling INTEGER NOT NULL,
        rooms INTEGER NOT NULL,
        jwks TEXT,
        created_ms INTEGER NOT NULL
    );",
    // 7: who ended each leg and each call (JSON, as `callEnded.endedBy` carries it).
    "ALTER TABLE legs ADD COLUMN ended_by TEXT;
    ALTER TABLE calls ADD COLUMN ended_by TEXT;",
    // 8: each endpoint that rang keeps its own end (`rings`); targets that never
    // answered get a leg of their own (`answered` = 0), and
    // every identity a call involves (caller, targets, anyone whose leg joined) is listed beside
    // the call, kept by triggers, so the identity filters walk an index instead of every call;
    // leg ends counted per minute and reason, also by triggers, so the summary of a window reads
    // one row per minute and reason whatever the traffic.
    "ALTER TABLE legs ADD COLUMN answered INTEGER NOT NULL DEFAULT 1;
    CREATE TABLE call_parties (
        identity TEXT NOT NULL,
        call_seq INTEGER NOT NULL,
        PRIMARY KEY (identity, call_seq)
    ) WITHOUT ROWID;
    INSERT OR IGNORE INTO call_parties (identity, call_seq) SELECT caller, seq FROM calls;
    INSERT OR IGNORE INTO call_parties (identity, call_seq)
        SELECT t.value, c.seq FROM calls c, json_each(c.targets) t;
    INSERT OR IGNORE INTO call_parties (identity, call_seq)
        SELECT l.identity, c.seq FROM legs l JOIN calls c ON c.id = l.call_id;
    CREATE TRIGGER call_parties_of_call AFTER INSERT ON calls BEGIN
        INSERT OR IGNORE INTO call_parties (identity, call_seq) VALUES (NEW.caller, NEW.seq);
        INSERT OR IGNORE INTO call_parties (identity, call_seq)
            SELECT value, NEW.seq FROM json_each(NEW.targets);
    END;
    CREATE TRIGGER call_parties_of_leg AFTER INSERT ON legs BEGIN
        INSERT OR IGNORE INTO call_parties (identity, call_seq)
            SELECT NEW.identity, seq FROM calls WHERE id = NEW.call_id;
    END;
    CREATE INDEX legs_identity_reason ON legs(identity, code, subcode, call_id);
    CREATE TABLE leg_end_minutes (
        minute INTEGER NOT NULL,
        code INTEGER NOT NULL,
        subcode INTEGER NOT NULL,
        count INTEGER NOT NULL,
        PRIMARY KEY (minute, code, subcode)
    ) WITHOUT ROWID;
    INSERT INTO leg_end_minutes (minute, code, subcode, count)
        SELECT left_ms / 60000, code, subcode, COUNT(*) FROM legs
        WHERE code IS NOT NULL AND left_ms IS NOT NULL GROUP BY 1, 2, 3;
    CREATE TRIGGER leg_end_counted AFTER INSERT ON legs
        WHEN NEW.code IS NOT NULL AND NEW.left_ms IS NOT NULL BEGIN
        INSERT INTO leg_end_minutes (minute, code, subcode, count)
            VALUES (NEW.left_ms / 60000, NEW.code, NEW.subcode, 1)
            ON CONFLICT (minute, code, subcode) DO UPDATE SET count = count + 1;
    END;
    CREATE TRIGGER leg_end_counted_late AFTER UPDATE OF code ON legs
        WHEN OLD.code IS NULL AND NEW.code IS NOT NULL AND NEW.left_ms IS NOT NULL BEGIN
        INSERT INTO leg_end_minutes (minute, code, subcode, count)
            VALUES (NEW.left_ms / 60000, NEW.code, NEW.subcode, 1)
            ON CONFLICT (minute, code, subcode) DO UPDATE SET count = count + 1;
    END;
    CREATE TABLE rings (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        call_id TEXT NOT NULL,
        participant_id TEXT NOT NULL,
        endpoint_id TEXT NOT NULL,
        identity TEXT NOT NULL,
        ended_ms INTEGER NOT NULL,
        code INTEGER NOT NULL,
        subcode INTEGER NOT NULL,
        result_category TEXT NOT NULL,
        raw_cause TEXT
    );
    CREATE INDEX rings_call ON rings(call_id, seq);
    CREATE INDEX calls_ended ON calls(ended_ms);",
];

/// The version a fully migrated database has.
pub const LATEST: usize = MIGRATIONS.len();

/// Brings the database up to [`LATEST`], each migration in its own transaction.
pub fn migrate(db: &mut Connection) -> rusqlite::Result<usize> {
    db.execute_batch("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")?;
    let current: Option<i64> =
        db.query_row("SELECT MAX(version) FROM schema_version", [], |r| r.get(0))?;
    let current = usize::try_from(current.unwrap_or(0)).unwrap_or(0);
    for (index, sql) in MIGRATIONS.iter().enumerate().skip(current) {
        let tx = db.transaction()?;
        tx.execute_batch(sql)?;
        tx.execute(
            "INSERT INTO schema_version (version) VALUES (?1)",
            [index as i64 + 1],
        )?;
        tx.commit()?;
    }
    Ok(LATEST.max(current))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrating_twice_applies_each_migration_once() {
        let mut db = Connection::open_in_memory().expect("db");
        assert_eq!(migrate(&mut db).expect("first"), LATEST);
        assert_eq!(migrate(&mut db).expect("second"), LATEST);
        let rows: i64 = db
            .query_row("SELECT COUNT(*) FROM schema_version", [], |r| r.get(0))
            .expect("count");
        assert_eq!(rows, LATEST as i64);
    }
}
