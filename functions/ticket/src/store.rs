//! The ticket store on `spin:sqlite`: `tandem_stores::ticket` (its SQL, tested natively) on the
//! component's connection to database `default`.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use tandem_adapter::sqlite::Spin;
use tandem_core::foundation::problem::Problem;
use tandem_stores::ticket;

pub use tandem_stores::ticket::{Created, ListQuery, replay};

pub type Store = ticket::Store<Spin>;

/// Opens database `default` and brings the ticket schema up to date.
pub async fn open() -> Result<Store, Problem> {
    Store::open(Spin::open_default(ticket::NAME).await?).await
}
