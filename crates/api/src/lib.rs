//! National statistics over HTTP for national bodies, forces and the public.
//!
//! `cyberflag api` serves [`server::router`]: `/v1/stats` (the query model of `cyberflag
//! stats`, JSON or CSV, `as_at` for revisions), `/v1/revisions` (how a cell's count changed and
//! why), `/v1/alerts`, the dashboard at `/`, `/openapi.json`, `/healthz` and `/metrics`.
//! Access is by bearer token with a role ([`access`]) and a query budget per token
//! ([`budget`]); every figure a role is not entitled to see exactly is built from the fixed grid
//! of [`grid`] under the cell-key method of [`disclosure`]. [`differencing`] is the attacker's
//! solver the tests run against it. The pure parts — parameters, disclosure control, the grid,
//! budgets, revisions, the solver — are synchronous functions tested with tables; the server is
//! the edge.

pub mod access;
pub mod budget;
pub mod differencing;
pub mod disclosure;
pub mod grid;
pub mod params;
pub mod revisions;
pub mod server;
