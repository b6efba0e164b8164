//! The faq component (POST /v1/faq). Its engine is issue #4; until it lands the
//! component answers its health route and a 501 problem everywhere else.

use spin_sdk::http::Request;
use spin_sdk::http_service;

#[http_service]
async fn handle(req: Request) -> tandem_adapter::HttpResponse {
    tandem_adapter::not_yet_built(&req, "faq", 4)
}
