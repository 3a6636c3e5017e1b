// Package conformance holds actorcpg's conformance tests: one Go test per
// rule of CPG-SPEC section 14 (TestRuleNN_<What>), each asserting the
// events, member/left/joined lists, reasons and CS error codes the rule
// states. Where actorcpg deliberately differs from Corosync (CPG-SPEC
// section 8), the test asserts actorcpg's behaviour and says so.
//
// Run with:
//
//	go test -race -count=1 ./tests/conformance/
package conformance
