//! One module per input format. Each implements [`crate::Decoder`] and is listed in
//! [`crate::DECODERS`].

pub mod apim;
pub mod aws_alb;
pub mod aws_apigw;
pub mod envoy;
mod fast_json;
pub(crate) mod fields;
pub mod har;
pub mod kong;
pub mod native;
pub mod nginx_combined;
pub mod nginx_json;
#[cfg(test)]
pub(crate) mod testing;
pub mod traefik;
