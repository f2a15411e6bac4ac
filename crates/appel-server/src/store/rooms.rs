//! Rooms: their validity window and roster.

use std::collections::BTreeMap;
use std::time::SystemTime;

use appel_codes::CallingError;
use appel_controller::RoomRole;
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{unix_ms, Store};

/// A stored room.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Room {
    /// Its id.
    pub id: String,
    /// Joining opens then (ms since the epoch).
    pub valid_from_ms: i64,
    /// Joining closes then (ms since the epoch).
    pub valid_until_ms: i64,
    /// Who may join, with which role.
    pub participants: BTreeMap<String, RoomRole>,
}

/// A change to a room, checked and applied in one transaction by [`Store::update_room`].
#[derive(Clone, Debug, Default)]
pub struct RoomChange {
    /// The new opening time, if it changes.
    pub valid_from_ms: Option<i64>,
    /// The new closing time, if it changes.
    pub valid_until_ms: Option<i64>,
    /// Identities added to the roster or given a new role.
    pub upsert: BTreeMap<String, RoomRole>,
    /// Identities taken off the roster.
    pub remove: Vec<String>,
    /// `upsert` is the whole new roster: everyone else leaves it.
    pub replace_roster: bool,
    /// The most entries the roster may hold after the change.
    pub max_roster: usize,
}

/// What [`Store::update_room`] did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RoomUpdate {
    /// The change is stored; the room as it now is.
    Updated(Room),
    /// There is no such room.
    NotFound,
    /// The window would close before it opens; nothing was stored.
    EmptyWindow { from: i64, until: i64 },
    /// The roster would exceed its limit; nothing was stored.
    RosterTooLarge { has: usize, would_have: usize },
}

/// The stored spelling of a role.
fn role_name(role: RoomRole) -> &'static str {
    match role {
        RoomRole::Presenter => "Presenter",
        RoomRole::Attendee => "Attendee",
        RoomRole::Consumer => "Consumer",
        RoomRole::Collaborator => "Collaborator",
    }
}

fn role_of(name: &str) -> RoomRole {
    match name {
        "Presenter" => RoomRole::Presenter,
        "Consumer" => RoomRole::Consumer,
        "Collaborator" => RoomRole::Collaborator,
        // Only this module writes roles; an unknown spelling gets the least surprising role.
        _ => RoomRole::Attendee,
    }
}

fn load(db: &Connection, id: &str) -> rusqlite::Result<Option<Room>> {
    let window: Option<(i64, i64)> = db
        .query_row(
            "SELECT valid_from_ms, valid_until_ms FROM rooms WHERE id = ?1",
            [id],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .optional()?;
    let Some((valid_from_ms, valid_until_ms)) = window else {
        return Ok(None);
    };
    let mut statement =
        db.prepare("SELECT identity, role FROM room_participants WHERE room_id = ?1")?;
    let participants = statement
        .query_map([id], |r| {
            let role: String = r.get(1)?;
            Ok((r.get::<_, String>(0)?, role_of(&role)))
        })?
        .collect::<rusqlite::Result<BTreeMap<_, _>>>()?;
    Ok(Some(Room {
        id: id.to_owned(),
        valid_from_ms,
        valid_until_ms,
        participants,
    }))
}

fn upsert_participants(
    db: &Connection,
    id: &str,
    participants: &BTreeMap<String, RoomRole>,
) -> rusqlite::Result<()> {
    for (identity, role) in participants {
        db.execute(
            "INSERT INTO room_participants (room_id, identity, role) VALUES (?1, ?2, ?3)
             ON CONFLICT (room_id, identity) DO UPDATE SET role = excluded.role",
            params![id, identity, role_name(*role)],
        )?;
    }
    Ok(())
}

// Every write below opens its transaction IMMEDIATE: a deferred one that reads and then writes
// fails at once (SQLITE_BUSY) when the records writer committed in between, where an immediate
// one waits under the busy timeout.
impl Store {
    /// Stores a new room.
    pub async fn create_room(&self, room: Room, now: SystemTime) -> Result<(), CallingError> {
        self.run("creating a room", move |db| {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute(
                "INSERT INTO rooms (id, valid_from_ms, valid_until_ms, created_ms) VALUES (?1, ?2, ?3, ?4)",
                params![room.id, room.valid_from_ms, room.valid_until_ms, unix_ms(now)],
            )?;
            upsert_participants(&tx, &room.id, &room.participants)?;
            tx.commit()
        })
        .await
    }

    /// A room, `None` when there is none with that id.
    pub async fn room(&self, id: &str) -> Result<Option<Room>, CallingError> {
        let id = id.to_owned();
        self.run("reading a room", move |db| load(db, &id)).await
    }

    /// Every room, ordered by id.
    pub async fn rooms(&self) -> Result<Vec<Room>, CallingError> {
        self.run("listing rooms", |db| {
            let ids = db
                .prepare("SELECT id FROM rooms ORDER BY id")?
                .query_map([], |r| r.get::<_, String>(0))?
                .collect::<rusqlite::Result<Vec<_>>>()?;
            let mut rooms = Vec::with_capacity(ids.len());
            for id in ids {
                rooms.extend(load(db, &id)?);
            }
            Ok(rooms)
        })
        .await
    }

    /// Applies `change` to a room in one transaction: the window and roster checks read the
    /// stored room inside the same transaction that writes it, so two concurrent changes (from
    /// this process or another one sharing the database) cannot both pass a check and overshoot.
    pub async fn update_room(
        &self,
        id: &str,
        change: RoomChange,
    ) -> Result<RoomUpdate, CallingError> {
        let id = id.to_owned();
        self.run("updating a room", move |db| {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            let Some(current) = load(&tx, &id)? else {
                return Ok(RoomUpdate::NotFound);
            };
            let from = change.valid_from_ms.unwrap_or(current.valid_from_ms);
            let until = change.valid_until_ms.unwrap_or(current.valid_until_ms);
            if from >= until {
                return Ok(RoomUpdate::EmptyWindow { from, until });
            }
            let mut remove = change.remove;
            if change.replace_roster {
                remove.extend(
                    current
                        .participants
                        .keys()
                        .filter(|identity| !change.upsert.contains_key(*identity))
                        .cloned(),
                );
            }
            let mut roster = current.participants.clone();
            roster.extend(change.upsert.iter().map(|(k, v)| (k.clone(), *v)));
            for identity in &remove {
                roster.remove(identity);
            }
            if roster.len() > change.max_roster {
                return Ok(RoomUpdate::RosterTooLarge {
                    has: current.participants.len(),
                    would_have: roster.len(),
                });
            }
            tx.execute(
                "UPDATE rooms SET valid_from_ms = ?2, valid_until_ms = ?3 WHERE id = ?1",
                params![id, from, until],
            )?;
            upsert_participants(&tx, &id, &change.upsert)?;
            for identity in remove {
                tx.execute(
                    "DELETE FROM room_participants WHERE room_id = ?1 AND identity = ?2",
                    params![id, identity],
                )?;
            }
            let room = load(&tx, &id)?;
            tx.commit()?;
            Ok(room.map_or(RoomUpdate::NotFound, RoomUpdate::Updated))
        })
        .await
    }

    /// Deletes a room and its roster; `false` when there was none.
    pub async fn delete_room(&self, id: &str) -> Result<bool, CallingError> {
        let id = id.to_owned();
        self.run("deleting a room", move |db| {
            let tx = db.transaction_with_behavior(TransactionBehavior::Immediate)?;
            tx.execute("DELETE FROM room_participants WHERE room_id = ?1", [&id])?;
            let deleted = tx.execute("DELETE FROM rooms WHERE id = ?1", [&id])? == 1;
            tx.commit()?;
            Ok(deleted)
        })
        .await
    }
}
