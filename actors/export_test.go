package actors

// SetPanicHook makes the node actor ("node") and the handle actors
// ("handle") panic on the messages hook reports; nil stops it.
func SetPanicHook(hook func(who string, m any) bool) {
	if hook == nil {
		panicHook.Store(nil)
		return
	}
	panicHook.Store(&hook)
}
