//! The router's config in a key-value store that every Traefik replica watches (Traefik's etcd v3
//! provider), for clusters where Traefik runs on several nodes and no directory is shared.
//!
//! The KV backend is another writer of the same rendered group config as the file provider
//! ([`crate::dynamic::render()`]): [`flatten`] turns it into Traefik's KV key layout
//! (`traefik/http/services/<name>/weighted/services/0/weight = 80`), and [`EtcdStore`] writes a
//! group's keys in **one etcd transaction** per change, so every Traefik reads either the old
//! config or the new one, never a mix.
//!
//! Why etcd v3 and not Redis (Traefik has both): Traefik's etcd provider reads the whole root
//! prefix with one range request, which etcd answers at one revision, and a transaction is one
//! revision; so an atomic write is also an atomic read. Its Redis provider lists keys with
//! `SCAN ... COUNT 10` in several round trips and then `MGET`s them (kvtools/redis `list`): a
//! `MULTI`/`EXEC` landing between two of those round trips is read half old, half new, and a
//! weighted service can be loaded without a child (Traefik then disables it with its router: every
//! request 404s). The Redis provider also needs `CONFIG SET notify-keyspace-events` rights on the
//! server. etcd's compare-and-swap on a per-group index key also keeps two writers from
//! clobbering each other.

mod etcd;
mod flatten;

pub(crate) use etcd::EtcdStore;

#[cfg(test)]
mod tests;
