//! Stepping with the last spike's fast-weight column delivered in the next step's pass.

use crate::network::Network;
use ebn_core::{DynNeuron, NeuronModel};

/// A [`Network`] stepped with each step's last fast-weight column delivered in the next
/// step's pass ([`Network::deferred`]). It borrows the network mutably, so nothing else can
/// read the voltages while a column is pending; the column is delivered when the voltages or
/// the network are asked for, and when the handle is dropped.
#[derive(Debug)]
pub struct Deferred<'a, M: NeuronModel = DynNeuron> {
    pub(crate) net: &'a mut Network<M>,
}

impl<M: NeuronModel> Deferred<'_, M> {
    /// [`Network::step`].
    pub fn step(&mut self, command: &[f64], target: Option<&[f64]>) -> &[usize] {
        self.net.advance(command, target, true)
    }
    /// Membrane voltages V, with any pending column delivered.
    pub fn voltages(&mut self) -> &[f64] {
        self.net.deliver_pending();
        self.net.voltages()
    }
    /// The network, with any pending column delivered.
    pub fn network(&mut self) -> &mut Network<M> {
        self.net.deliver_pending();
        self.net
    }
    /// The readout x_hat (current at once: it jumps at the spike).
    pub fn readout(&self) -> &[f64] {
        self.net.readout()
    }
    /// Filtered spike trains r.
    pub fn traces(&self) -> &[f64] {
        self.net.traces()
    }
    /// The output error e of the current step.
    pub fn error(&self) -> &[f64] {
        self.net.error()
    }
    /// The neurons that fired in the last step.
    pub fn last_spikes(&self) -> &[usize] {
        self.net.last_spikes()
    }
    /// Time t = n dt.
    pub fn time(&self) -> f64 {
        self.net.time()
    }
}

impl<M: NeuronModel> Drop for Deferred<'_, M> {
    fn drop(&mut self) {
        self.net.deliver_pending();
    }
}
