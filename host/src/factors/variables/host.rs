//! The `spin:variables` host functions on a [`VariablesState`].

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::component::{Accessor, HasData, Linker};

use self::bindings::spin::variables::variables::{self, Error};
use super::expressions::{Value, check_variable_name};

mod bindings {
    wasmtime::component::bindgen!({
        path: "wit",
        world: "tandem:host/variables",
        imports: { default: trappable },
    });
}

/// What one instance may read: its component's variables.
#[derive(Default)]
pub struct VariablesState {
    variables: Arc<BTreeMap<String, Value>>,
}

impl VariablesState {
    /// State of an instance of a component with `variables`.
    pub fn new(variables: Arc<BTreeMap<String, Value>>) -> Self {
        Self { variables }
    }

    /// The component's variable `name`, if it has one.
    pub fn get(&self, name: &str) -> Option<&Value> {
        self.variables.get(name)
    }
}

/// `HasData` marker: the interface projects the store data to its [`VariablesState`].
struct Variables;

impl HasData for Variables {
    type Data<'a> = &'a mut VariablesState;
}

/// Links `spin:variables`; `get` finds the instance's state in the store data.
pub fn add_to_linker<T: Send + 'static>(
    linker: &mut Linker<T>,
    get: fn(&mut T) -> &mut VariablesState,
) -> anyhow::Result<()> {
    crate::error::wt(
        variables::add_to_linker::<T, Variables>(linker, get),
        "linking spin:variables",
    )
}

impl variables::Host for VariablesState {}

impl<T> variables::HostWithStore<T> for Variables {
    async fn get(
        accessor: &Accessor<T, Self>,
        name: String,
    ) -> wasmtime::Result<Result<String, Error>> {
        if check_variable_name(&name).is_err() {
            return Ok(Err(Error::InvalidName(name)));
        }
        Ok(accessor.with(|mut access| match access.get().get(&name) {
            Some(v) => Ok(v.expose().to_string()),
            None => Err(Error::Undefined(format!("no variable for {name:?}"))),
        }))
    }
}
