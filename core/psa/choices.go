package psa

import "context"

// FieldChooser is implemented by clients that can offer the values a
// setting may take from the PSA tenant itself, so that an admin picks one
// instead of typing an id (the fields marked [Field].Choosable).
type FieldChooser interface {
	// Choices returns the values field may take. An unknown field is an
	// error of kind core.ErrInvalid.
	Choices(ctx context.Context, field string) (Choices, error)
}

// Choices are the values a setting may take.
type Choices struct {
	Options []Choice
	// Suggested is the one value that fits, when exactly one does; "".
	Suggested string
	// Hint says in a sentence how the options were found, or what to do
	// when there are none.
	Hint string
}

// Choice is one value a setting may take.
type Choice struct {
	Value string // what the setting stores: "udf7text", "3"
	Label string // what the admin sees: "Mobile Phone (udf7text)"
}
