//! The ticket store's schema: numbered migrations, applied once each, in order
//! (`crate::db::Db::open`). Never edit a shipped one: add a new version.

use crate::db::Migration;

pub const MIGRATIONS: &[Migration] = &[
    (
        1,
        r#"
    CREATE TABLE ticket_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
    CREATE TABLE ticket_tickets (
        seq                 INTEGER PRIMARY KEY AUTOINCREMENT,
        id                  TEXT    NOT NULL UNIQUE,
        status              TEXT    NOT NULL CHECK (status IN ('new', 'open', 'pending', 'resolved', 'closed')),
        priority            TEXT    NOT NULL CHECK (priority IN ('low', 'normal', 'high', 'urgent')),
        priority_reasons    TEXT    NOT NULL,
        category            TEXT    NOT NULL,
        category_source     TEXT    NOT NULL,
        category_confidence REAL,
        queue               TEXT    NOT NULL,
        assignee            TEXT,
        customer_id         TEXT    NOT NULL,
        customer_name       TEXT,
        customer_channel    TEXT,
        customer_contact    TEXT,
        customer_tier       TEXT,
        subject             TEXT    NOT NULL,
        summary             TEXT    NOT NULL,
        transcript          TEXT    NOT NULL,
        entities            TEXT    NOT NULL,
        sla_due             INTEGER NOT NULL,
        created_at          INTEGER NOT NULL,
        updated_at          INTEGER NOT NULL,
        resolved_at         INTEGER,
        version             INTEGER NOT NULL CHECK (version >= 1),
        idempotency_key     TEXT,
        fingerprint         TEXT    NOT NULL
    );
    CREATE UNIQUE INDEX ticket_tickets_idempotency
        ON ticket_tickets (customer_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
    CREATE INDEX ticket_tickets_by_customer ON ticket_tickets (customer_id, created_at);
    CREATE INDEX ticket_tickets_by_status ON ticket_tickets (status, seq);
    CREATE INDEX ticket_tickets_by_queue ON ticket_tickets (queue, seq);
    CREATE INDEX ticket_tickets_by_assignee ON ticket_tickets (assignee, status);
    CREATE TABLE ticket_events (
        seq        INTEGER PRIMARY KEY AUTOINCREMENT,
        ticket_id  TEXT,
        agent_id   TEXT,
        kind       TEXT    NOT NULL,
        actor      TEXT,
        from_value TEXT,
        to_value   TEXT,
        text       TEXT,
        created_at INTEGER NOT NULL
    );
    CREATE INDEX ticket_events_by_ticket ON ticket_events (ticket_id, seq);
    CREATE TABLE ticket_agents (
        id               TEXT    PRIMARY KEY,
        name             TEXT    NOT NULL,
        queues           TEXT    NOT NULL,
        capacity         INTEGER NOT NULL CHECK (capacity BETWEEN 1 AND 100),
        status           TEXT    NOT NULL CHECK (status IN ('online', 'away', 'offline')),
        last_assigned_at INTEGER,
        created_at       INTEGER NOT NULL,
        updated_at       INTEGER NOT NULL
    ) WITHOUT ROWID;
    CREATE TABLE ticket_queues (
        id      TEXT PRIMARY KEY,
        name_zh TEXT,
        name_en TEXT
    ) WITHOUT ROWID;
    "#,
    ),
    (
        2,
        // Time-driven work (docs/tickets.md, "Schedule"): escalation once per ticket, the
        // assignee's ownership clock, and the first response for the SLA figures.
        r#"
    ALTER TABLE ticket_tickets ADD COLUMN escalated_at INTEGER;
    ALTER TABLE ticket_tickets ADD COLUMN first_response_at INTEGER;
    ALTER TABLE ticket_tickets ADD COLUMN assigned_at INTEGER;
    ALTER TABLE ticket_tickets ADD COLUMN assignee_replied_at INTEGER;
    UPDATE ticket_tickets SET assigned_at = updated_at WHERE assignee IS NOT NULL;
    CREATE INDEX ticket_tickets_overdue ON ticket_tickets (sla_due)
        WHERE escalated_at IS NULL AND status IN ('new', 'open');
    CREATE INDEX ticket_tickets_owned ON ticket_tickets (assigned_at)
        WHERE assignee IS NOT NULL AND assignee_replied_at IS NULL AND status IN ('new', 'open')
    "#,
    ),
    (
        3,
        // Customer records pushed by a CRM (docs/tickets.md, "Customers"): the record as
        // JSON, its tier beside it for queries.
        r#"
    CREATE TABLE ticket_customers (
        id         TEXT    PRIMARY KEY,
        record     TEXT    NOT NULL,
        tier       TEXT,
        created_at INTEGER NOT NULL,
        updated_at INTEGER NOT NULL,
        version    INTEGER NOT NULL CHECK (version >= 1)
    ) WITHOUT ROWID
    "#,
    ),
];
