//! The domain rules, shared by GraphQL resolvers and the command line.

pub mod catalog;
pub mod exact;
pub mod observations;
pub mod pagination;
pub mod savings;
pub mod seed;
pub mod series;
pub mod targets;
pub mod time;
