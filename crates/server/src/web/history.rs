//! The dashboard's history pages.

use std::sync::Arc;

use axum::Router;

use crate::App;

pub fn routes() -> Router<Arc<App>> {
    Router::new()
}
