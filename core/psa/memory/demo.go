package memory

import "github.com/countersign/countersign/core/psa"

// SeedDemo replaces the server's data with a small, plausible MSP: three
// client companies, their contacts (numbers in the mixed formats real PSAs
// hold, all in the 555-01xx range reserved for fiction), a few tickets, and
// the member "demo" behind the API key.
func (s *Server) SeedDemo() {
	s.Seed(
		[]psa.Company{
			{Ref: "1", Name: "Acme Dental"},
			{Ref: "2", Name: "Globex Logistics"},
			{Ref: "3", Name: "Initech Insurance"},
		},
		[]psa.Contact{
			{Ref: "101", CompanyRef: "1", FirstName: "Alice", LastName: "Smith", Title: "Practice Manager",
				Emails: []psa.Email{{Address: "alice.smith@acme-dental.example", Label: "Work", Default: true}},
				Phones: []psa.Phone{{Number: "(555) 010-0142", Label: "Mobile", Default: true}, {Number: "555-010-0100 x12", Label: "Direct"}}},
			{Ref: "102", CompanyRef: "1", FirstName: "Bob", LastName: "Jones", Title: "Dentist",
				Emails: []psa.Email{{Address: "bob.jones@acme-dental.example", Label: "Work", Default: true}},
				Phones: []psa.Phone{{Number: "+1 555 010 0177", Label: "Mobile", Default: true}}},
			{Ref: "201", CompanyRef: "2", FirstName: "Carol", LastName: "Smithers", Title: "Dispatcher",
				Emails: []psa.Email{{Address: "carol@globex.example", Default: true}},
				Phones: []psa.Phone{{Number: "555.010.0199", Label: "Mobile", Default: true}}},
			{Ref: "202", CompanyRef: "2", FirstName: "Dan", LastName: "Okafor", Title: "CFO",
				Emails: []psa.Email{{Address: "dan.okafor@globex.example", Default: true}, {Address: "dan@okafor.example", Label: "Personal"}},
				Phones: []psa.Phone{{Number: "(555) 010-0123", Label: "Mobile", Default: true}}},
			{Ref: "301", CompanyRef: "3", FirstName: "Erin", LastName: "Walsh", Title: "Office Manager",
				Emails: []psa.Email{{Address: "erin.walsh@initech.example", Default: true}},
				Phones: []psa.Phone{{Number: "555 010 0188", Label: "Mobile", Default: true}}},
		},
		[]psa.Ticket{
			{Ref: "5001", Summary: "Password reset requested by phone", CompanyRef: "1", ContactRef: "101", Status: "New"},
			{Ref: "5002", Summary: "Change bank details for supplier payment", CompanyRef: "2", ContactRef: "202", Status: "New"},
			{Ref: "5003", Summary: "MFA device lost", CompanyRef: "3", ContactRef: "301", Status: "In Progress"},
			{Ref: "5004", Summary: "Printer offline", CompanyRef: "2", Status: "New"},
		},
	)
	s.SetMember(psa.Member{Ref: "7", Identifier: "demo", Name: "Demo Technician", Email: "demo@countersign.example"})
	s.SeedMembers([]psa.Member{
		{Ref: "7", Identifier: "demo", Name: "Demo Technician", Email: "demo@countersign.example", Phone: "(555) 010-0107"},
		{Ref: "8", Identifier: "nina", Name: "Nina Night-shift", Email: "nina@countersign.example", Phone: "+1 555 010 0108"},
		{Ref: "9", Identifier: "old", Name: "Oscar Former", Email: "oscar@countersign.example"},
	}, "9")
}
