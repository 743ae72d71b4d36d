//! Descriptor queries and selector adjustment: LAR, LSL, VERR, VERW, ARPL (SDM vol. 2;
//! vol. 3A §5.10.4). They report through ZF instead of faulting on bad selectors.

use super::descriptor::{is_null, rpl, system, Descriptor};
use crate::fault::Fault;
use crate::Cpu;

/// Which question a descriptor query asks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Query {
    /// LAR: access rights of segments and of most system descriptors.
    AccessRights,
    /// LSL: limit of segments, TSSs and LDTs.
    Limit,
    /// VERR: readable from the current privilege level.
    Readable,
    /// VERW: writable from the current privilege level.
    Writable,
}

impl Cpu {
    /// The descriptor `selector` names when `query` may see it from the current CPL and RPL,
    /// `None` (ZF = 0) otherwise. Only paging faults on the table read are raised.
    pub(crate) fn query_descriptor(
        &mut self,
        selector: u16,
        query: Query,
    ) -> Result<Option<Descriptor>, Fault> {
        if is_null(selector) {
            return Ok(None);
        }
        let Some(addr) = self.descriptor_address(selector) else {
            return Ok(None);
        };
        let desc = self.read_descriptor_at(addr)?;
        let type_ok = if desc.is_segment() {
            match query {
                Query::AccessRights | Query::Limit => true,
                Query::Readable => desc.readable(),
                Query::Writable => desc.writable_data(),
            }
        } else {
            let kind = desc.kind();
            match query {
                Query::AccessRights => matches!(
                    kind,
                    system::TSS16_AVAILABLE
                        | system::LDT
                        | system::TSS16_BUSY
                        | system::CALL_GATE16
                        | system::TASK_GATE
                        | system::TSS32_AVAILABLE
                        | system::TSS32_BUSY
                        | system::CALL_GATE32
                ),
                Query::Limit => matches!(
                    kind,
                    system::TSS16_AVAILABLE
                        | system::LDT
                        | system::TSS16_BUSY
                        | system::TSS32_AVAILABLE
                        | system::TSS32_BUSY
                ),
                Query::Readable | Query::Writable => false,
            }
        };
        if !type_ok {
            return Ok(None);
        }
        let cpl = self.state.cpl;
        if !desc.conforming() && (desc.dpl() < cpl || desc.dpl() < rpl(selector)) {
            return Ok(None);
        }
        Ok(Some(desc))
    }
}
