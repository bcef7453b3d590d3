package halo

// agentState is the client's Halo agent sign-in state.
type agentState struct{}

func newAgentState() *agentState { return &agentState{} }
