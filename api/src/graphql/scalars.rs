//! The `Decimal` scalar: exact values as strings, in and out.
//!
//! async-graphql's own decimal scalar also accepts JSON floats, which have already lost digits
//! by the time they arrive; this one refuses them.

use async_graphql::{InputValueError, InputValueResult, Scalar, ScalarType, Value};
use rust_decimal::Decimal;

/// An exact decimal number, written as a string (`"3700000"`, `"0.25"`); whole numbers may also be
/// sent as JSON integers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exact(pub Decimal);

#[Scalar(name = "Decimal")]
impl ScalarType for Exact {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(text) => {
                text.trim().parse::<Decimal>().map(Exact).map_err(|_| {
                    InputValueError::custom(format!("`{text}` is not a decimal number"))
                })
            }
            Value::Number(number) => {
                number
                    .as_i64()
                    .map(|n| Exact(Decimal::from(n)))
                    .ok_or_else(|| {
                        InputValueError::custom(
                            "send fractional values as strings (\"0.25\") to keep them exact",
                        )
                    })
            }
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(self.0.to_string())
    }
}

impl From<Decimal> for Exact {
    fn from(value: Decimal) -> Self {
        Self(value)
    }
}
