//! One module per input format. Each implements [`crate::Decoder`] and is listed in
//! [`crate::DECODERS`].

pub mod apim;
pub mod aws_alb;
pub mod aws_apigw;
pub mod envoy;
pub mod har;
pub mod kong;
pub(crate) mod lenient;
pub(crate) mod logkit;
pub mod native;
pub mod nginx_combined;
pub mod nginx_json;
pub mod traefik;
