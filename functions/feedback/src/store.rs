//! The feedback store on `spin:sqlite`: `tandem_stores::feedback` (its SQL, tested natively) on
//! the component's connection to database `default`.

// A Problem is the error of a request handler, built at most once per request.
#![allow(clippy::result_large_err)]

use tandem_adapter::sqlite::Spin;
use tandem_core::foundation::problem::Problem;
use tandem_stores::feedback;

pub type Store = feedback::Store<Spin>;

/// Opens database `default` and brings the feedback schema up to date.
pub async fn open() -> Result<Store, Problem> {
    Store::open(Spin::open_default(feedback::NAME).await?).await
}
