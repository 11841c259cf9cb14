//! National statistics over HTTP for national bodies, forces and the public.
//!
//! `cyberflag api` serves [`server::router`]: `/v1/stats` (the query model of `cyberflag
//! stats`, JSON or CSV, `as_at` for revisions), `/v1/revisions` (how a cell's count changed and
//! why), `/v1/alerts`, the dashboard at `/`, `/openapi.json`, `/healthz` and `/metrics`.
//! Access is by bearer token with a role ([`access`]); every figure a role is not entitled to
//! see exactly goes through [`disclosure`]. The pure parts — parameters, disclosure control,
//! revisions — are synchronous functions tested with tables; the server is the edge.

pub mod access;
pub mod differencing;
pub mod disclosure;
pub mod params;
pub mod revisions;
pub mod server;
