//! An indicator's formula: metrics combined by sums, differences, ratios and constant factors,
//! kept as JSON in its version. Evaluating one carries the inputs' qualifiers through the
//! arithmetic ([`crate::kinds`]): "more than 300 of 1,000" is more than 30%, "300 of more than
//! 1,000" less than 30%, "more than 300 of more than 1,000" could be anything.

use std::collections::BTreeSet;
use std::fmt;

use entity::values::Qualifier;
use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;
use crate::{exact, kinds, message};

/// Most terms a formula may have, and how deep it may nest: the longest published indicator
/// has a handful; the bound keeps a hostile definition from costing every request that reads it.
pub const MAX_TERMS: usize = 64;
pub const MAX_DEPTH: usize = 8;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Formula {
    /// A metric's value in the period, as its kind defines it (see [`super::input_of`]).
    Metric(String),
    Constant(Decimal),
    Sum(Vec<Formula>),
    Difference {
        minuend: Box<Formula>,
        subtrahend: Box<Formula>,
    },
    Ratio {
        numerator: Box<Formula>,
        denominator: Box<Formula>,
    },
    Scaled {
        factor: Decimal,
        of: Box<Formula>,
    },
}

/// A figure going into a formula, or coming out of one (`qualifier` none: open).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Qualified {
    pub value: Decimal,
    pub qualifier: Option<Qualifier>,
}

/// Why a formula has no value for a period.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gap {
    /// No version of the indicator was valid then.
    NoVersion,
    /// These metrics have no value in the period.
    MissingInputs(Vec<String>),
    ZeroDenominator,
    /// The result is too large to keep exactly.
    Overflow,
}

impl Formula {
    /// The metrics it reads, each once, in code order.
    pub fn metrics(&self) -> BTreeSet<&str> {
        let mut found = BTreeSet::new();
        self.visit(&mut |term| {
            if let Formula::Metric(code) = term {
                found.insert(code.as_str());
            }
        });
        found
    }

    fn visit<'a>(&'a self, on: &mut impl FnMut(&'a Formula)) {
        on(self);
        match self {
            Formula::Metric(_) | Formula::Constant(_) => {}
            Formula::Sum(terms) => terms.iter().for_each(|t| t.visit(on)),
            Formula::Difference {
                minuend: a,
                subtrahend: b,
            }
            | Formula::Ratio {
                numerator: a,
                denominator: b,
            } => {
                a.visit(on);
                b.visit(on);
            }
            Formula::Scaled { of, .. } => of.visit(on),
        }
    }

    fn depth(&self) -> usize {
        1 + match self {
            Formula::Metric(_) | Formula::Constant(_) => 0,
            Formula::Sum(terms) => terms.iter().map(Formula::depth).max().unwrap_or(0),
            Formula::Difference {
                minuend: a,
                subtrahend: b,
            }
            | Formula::Ratio {
                numerator: a,
                denominator: b,
            } => a.depth().max(b.depth()),
            Formula::Scaled { of, .. } => of.depth(),
        }
    }

    /// Refuses a formula no period could be computed with, before it is stored.
    pub fn check(&self, argument: &'static str) -> Result<(), ApiError> {
        let mut terms = 0;
        let mut empty_sum = false;
        let mut constants = Vec::new();
        self.visit(&mut |term| {
            terms += 1;
            match term {
                Formula::Sum(parts) if parts.is_empty() => empty_sum = true,
                Formula::Constant(value) | Formula::Scaled { factor: value, .. } => {
                    constants.push(*value)
                }
                _ => {}
            }
        });
        let depth = self.depth();
        if terms > MAX_TERMS || depth > MAX_DEPTH {
            return Err(ApiError::bad_input(
                argument,
                message!(
                    FORMULA_TOO_LARGE,
                    terms = terms,
                    depth = depth,
                    max_terms = MAX_TERMS,
                    max_depth = MAX_DEPTH
                ),
            ));
        }
        if empty_sum {
            return Err(ApiError::bad_input(argument, message!(FORMULA_EMPTY_SUM)));
        }
        if self.metrics().is_empty() {
            return Err(ApiError::bad_input(
                argument,
                message!(FORMULA_WITHOUT_METRIC),
            ));
        }
        for constant in constants {
            exact::storable(argument, constant)?;
        }
        Ok(())
    }

    /// The formula's value from its inputs' values in one period.
    pub fn evaluate(&self, input: &impl Fn(&str) -> Option<Qualified>) -> Result<Qualified, Gap> {
        let missing: Vec<String> = self
            .metrics()
            .into_iter()
            .filter(|code| input(code).is_none())
            .map(str::to_owned)
            .collect();
        if !missing.is_empty() {
            return Err(Gap::MissingInputs(missing));
        }
        let result = self.value(input)?;
        let rounded = result.value.round_dp_with_strategy(
            exact::MAX_DECIMAL_PLACES,
            rust_decimal::RoundingStrategy::MidpointNearestEven,
        );
        Ok(Qualified {
            value: exact::from_storage(rounded),
            qualifier: result.qualifier,
        })
    }

    fn value(&self, input: &impl Fn(&str) -> Option<Qualified>) -> Result<Qualified, Gap> {
        let exact = |value| Qualified {
            value,
            qualifier: Some(Qualifier::Exact),
        };
        Ok(match self {
            Formula::Metric(code) => {
                input(code).ok_or_else(|| Gap::MissingInputs(vec![code.clone()]))?
            }
            Formula::Constant(value) => exact(*value),
            Formula::Sum(terms) => {
                let mut total = exact(Decimal::ZERO);
                for term in terms {
                    let part = term.value(input)?;
                    total = Qualified {
                        value: total.value.checked_add(part.value).ok_or(Gap::Overflow)?,
                        qualifier: kinds::derived_sum([total.qualifier, part.qualifier]),
                    };
                }
                total
            }
            Formula::Difference {
                minuend,
                subtrahend,
            } => {
                let (a, b) = (minuend.value(input)?, subtrahend.value(input)?);
                Qualified {
                    value: a.value.checked_sub(b.value).ok_or(Gap::Overflow)?,
                    qualifier: kinds::derived_difference(a.qualifier, b.qualifier),
                }
            }
            Formula::Ratio {
                numerator,
                denominator,
            } => {
                let (n, d) = (numerator.value(input)?, denominator.value(input)?);
                if d.value.is_zero() {
                    return Err(Gap::ZeroDenominator);
                }
                Qualified {
                    value: n.value.checked_div(d.value).ok_or(Gap::Overflow)?,
                    qualifier: signed([n, d], kinds::derived_quotient(n.qualifier, d.qualifier)),
                }
            }
            Formula::Scaled { factor, of } => {
                let part = of.value(input)?;
                let factor = exact(*factor);
                Qualified {
                    value: part.value.checked_mul(factor.value).ok_or(Gap::Overflow)?,
                    qualifier: signed(
                        [part, factor],
                        kinds::derived_quotient(part.qualifier, factor.qualifier),
                    ),
                }
            }
        })
    }
}

/// Bounds carry through products and quotients as worked out for figures that are not negative;
/// with a negative one, only exact figures give a known side.
fn signed(parts: [Qualified; 2], positive: Option<Qualifier>) -> Option<Qualifier> {
    let exact = parts.iter().all(|p| p.qualifier == Some(Qualifier::Exact));
    match parts
        .iter()
        .any(|p| p.value.is_sign_negative() && !p.value.is_zero())
    {
        false => positive,
        true if exact => Some(Qualifier::Exact),
        true => None,
    }
}

/// How an auditor reads it: `100 × (a / b)`.
impl fmt::Display for Formula {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let grouped = |f: &mut fmt::Formatter<'_>, term: &Formula| match term {
            Formula::Metric(_) | Formula::Constant(_) => write!(f, "{term}"),
            _ => write!(f, "({term})"),
        };
        match self {
            Formula::Metric(code) => f.write_str(code),
            Formula::Constant(value) => write!(f, "{value}"),
            Formula::Sum(terms) => {
                for (i, term) in terms.iter().enumerate() {
                    if i > 0 {
                        f.write_str(" + ")?;
                    }
                    grouped(f, term)?;
                }
                Ok(())
            }
            Formula::Difference {
                minuend,
                subtrahend,
            } => {
                grouped(f, minuend)?;
                f.write_str(" − ")?;
                grouped(f, subtrahend)
            }
            Formula::Ratio {
                numerator,
                denominator,
            } => {
                grouped(f, numerator)?;
                f.write_str(" / ")?;
                grouped(f, denominator)
            }
            Formula::Scaled { factor, of } => {
                write!(f, "{factor} × ")?;
                grouped(f, of)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use Qualifier::*;

    fn metric(code: &str) -> Box<Formula> {
        Box::new(Formula::Metric(code.to_owned()))
    }

    fn percent_online() -> Formula {
        Formula::Scaled {
            factor: Decimal::from(100),
            of: Box::new(Formula::Ratio {
                numerator: metric("online"),
                denominator: metric("all"),
            }),
        }
    }

    fn inputs(
        online: Option<(i64, Qualifier)>,
        all: Option<(i64, Qualifier)>,
    ) -> impl Fn(&str) -> Option<Qualified> {
        move |code| {
            let (value, qualifier) = match code {
                "online" => online?,
                "all" => all?,
                _ => return None,
            };
            Some(Qualified {
                value: Decimal::from(value),
                qualifier: Some(qualifier),
            })
        }
    }

    #[test]
    fn a_rate_carries_its_inputs_qualifiers() {
        let rate = percent_online();
        let of = |online, all| rate.evaluate(&inputs(Some(online), Some(all))).unwrap();
        let exact = of((300, Exact), (1000, Exact));
        assert_eq!(
            (exact.value, exact.qualifier),
            (Decimal::from(30), Some(Exact))
        );
        assert_eq!(of((300, MoreThan), (1000, Exact)).qualifier, Some(MoreThan));
        assert_eq!(of((300, Exact), (1000, MoreThan)).qualifier, Some(LessThan));
        assert_eq!(of((300, About), (1000, Exact)).qualifier, Some(About));
        assert_eq!(of((300, MoreThan), (1000, MoreThan)).qualifier, None);
        let third = of((1, Exact), (3, Exact));
        assert_eq!(third.value.to_string(), "33.333333");
    }

    #[test]
    fn a_period_without_every_input_names_what_is_missing() {
        let rate = percent_online();
        assert_eq!(
            rate.evaluate(&inputs(Some((1, Exact)), None)),
            Err(Gap::MissingInputs(vec!["all".to_owned()]))
        );
        assert_eq!(
            rate.evaluate(&inputs(None, None)),
            Err(Gap::MissingInputs(vec![
                "all".to_owned(),
                "online".to_owned()
            ]))
        );
        assert_eq!(
            rate.evaluate(&inputs(Some((1, Exact)), Some((0, Exact)))),
            Err(Gap::ZeroDenominator)
        );
    }

    #[test]
    fn negative_figures_keep_a_side_only_when_exact() {
        let change = Formula::Ratio {
            numerator: Box::new(Formula::Difference {
                minuend: metric("online"),
                subtrahend: metric("all"),
            }),
            denominator: metric("all"),
        };
        let fall = change
            .evaluate(&inputs(Some((50, Exact)), Some((100, Exact))))
            .unwrap();
        assert_eq!(
            (fall.value.to_string(), fall.qualifier),
            ("-0.5".to_owned(), Some(Exact))
        );
        let unsure = change
            .evaluate(&inputs(Some((50, MoreThan)), Some((100, Exact))))
            .unwrap();
        assert_eq!(unsure.qualifier, None);
    }

    #[test]
    fn a_formula_reads_as_arithmetic_and_round_trips_as_json() {
        let rate = percent_online();
        assert_eq!(rate.to_string(), "100 × (online / all)");
        let json = serde_json::to_string(&rate).unwrap();
        assert_eq!(
            json,
            r#"{"scaled":{"factor":"100","of":{"ratio":{"numerator":{"metric":"online"},"denominator":{"metric":"all"}}}}}"#
        );
        assert_eq!(serde_json::from_str::<Formula>(&json).unwrap(), rate);
    }

    #[test]
    fn a_formula_no_period_could_use_is_refused() {
        let code = |formula: Formula| match formula.check("formula") {
            Err(ApiError::BadUserInput { message, .. }) => message.to_string(),
            other => panic!("{other:?}"),
        };
        assert!(code(Formula::Sum(vec![])).contains("at least one"));
        assert!(code(Formula::Constant(Decimal::ONE)).contains("no metric"));
        let mut deep = Formula::Metric("a".to_owned());
        for _ in 0..MAX_DEPTH {
            deep = Formula::Sum(vec![deep]);
        }
        assert!(code(deep).contains("nested"));
        assert!(percent_online().check("formula").is_ok());
    }
}
