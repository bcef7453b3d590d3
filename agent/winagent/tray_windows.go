//go:build windows

package winagent

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sync"
	"time"

	"fyne.io/systray"
	"github.com/countersign/countersign/agent"
	"golang.org/x/sys/windows"
)

// RunTray shows the tray icon for the signed-in user until Quit or until
// the service goes away. It connects to the service's pipe; it holds no
// credential and says nothing about who it is (the service reads that from
// the pipe).
func RunTray(path string) error {
	conn, err := waitPipe(path, 30*time.Second)
	if err != nil {
		return err
	}
	ui := &trayUI{}
	tray := agent.NewTray(conn, ui)
	ui.tray = tray
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var runErr error
	systray.Run(func() {
		ui.build()
		go func() {
			runErr = tray.Run(ctx)
			systray.Quit()
		}()
		go ui.loop(ctx)
		go func() { _, _ = tray.Status(ctx) }()
	}, cancel)
	return runErr
}

// trayUI draws package agent's tray with systray menu items and message
// boxes. A prompt shows as three number items and "This is not me" at the
// top of the menu, announced by a message box.
type trayUI struct {
	tray                        *agent.Tray
	status, ticket, login, tech *systray.MenuItem
	choices                     [3]*systray.MenuItem
	notMe, quit                 *systray.MenuItem
	mu                          sync.Mutex
	shown                       []string
}

func (u *trayUI) build() {
	systray.SetIcon(icon())
	systray.SetTooltip("Countersign")
	for i := range u.choices {
		u.choices[i] = systray.AddMenuItem("", "Pick the number the technician reads to you")
		u.choices[i].Hide()
	}
	u.notMe = systray.AddMenuItem("This is not me", "You did not ask for this: your MSP will be alerted")
	u.notMe.Hide()
	u.status = systray.AddMenuItem("Countersign: connecting…", "")
	u.status.Disable()
	systray.AddSeparator()
	u.ticket = systray.AddMenuItem("Log a ticket", "Ask your IT provider for help")
	u.login = systray.AddMenuItem("Login / Register", "Tell your IT provider who you are")
	u.tech = systray.AddMenuItem("Verify my technician", "Who's calling me?")
	systray.AddSeparator()
	u.quit = systray.AddMenuItem("Quit", "")
}

// loop receives every click for the life of the process: ClickedCh drops
// clicks nobody is receiving (agent-and-ad.md §2).
func (u *trayUI) loop(ctx context.Context) {
	pick := func(i int) {
		u.mu.Lock()
		var c string
		if i < len(u.shown) {
			c = u.shown[i]
		}
		u.mu.Unlock()
		if _, err := u.tray.Pick(ctx, c); err != nil {
			msgBox("Countersign", err.Error())
		}
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.choices[0].ClickedCh:
			pick(0)
		case <-u.choices[1].ClickedCh:
			pick(1)
		case <-u.choices[2].ClickedCh:
			pick(2)
		case <-u.notMe.ClickedCh:
			if _, err := u.tray.NotMe(ctx); err != nil {
				msgBox("Countersign", err.Error())
			}
		case <-u.tech.ClickedCh:
			go u.whoIsCalling(ctx)
		case <-u.ticket.ClickedCh:
			go u.openForm(ctx, u.tray.TicketForm)
		case <-u.login.ClickedCh:
			go u.openForm(ctx, u.tray.LoginForm)
		case <-u.quit.ClickedCh:
			systray.Quit()
			return
		}
	}
}

// openForm opens a one-time page of the server ("Log a ticket", "Login /
// Register") in the user's browser.
func (u *trayUI) openForm(ctx context.Context, form func(context.Context) (string, error)) {
	link, err := form(ctx)
	if err != nil {
		msgBox("Countersign", "Could not open the form: "+err.Error())
		return
	}
	if err := openURL(link); err != nil {
		msgBox("Countersign", "Could not open your browser. Open this address:\n\n"+link)
	}
}

// openURL opens link with the user's default browser.
func openURL(link string) error {
	verb, _ := windows.UTF16PtrFromString("open")
	file, err := windows.UTF16PtrFromString(link)
	if err != nil {
		return err
	}
	return windows.ShellExecute(0, verb, file, nil, nil, windows.SW_SHOWNORMAL)
}

// whoIsCalling is "Verify my technician": it lists the technicians
// working with the user now and asks, for each, whether they are the
// person on the phone (Yes: confirm, No: not the person, Cancel: no
// answer); the words and the rules are agent.CallingBox's.
func (u *trayUI) whoIsCalling(ctx context.Context) {
	techs, text, err := u.tray.Technicians(ctx)
	switch {
	case err != nil:
		msgBox(agent.CallingTitle, "Countersign could not reach your IT provider: "+err.Error())
		return
	case text != "":
		msgBox(agent.CallingTitle, text)
		return
	case len(techs) == 0:
		msgBox(agent.CallingTitle, agent.CallingText(nil))
		return
	}
	for _, t := range techs {
		answer := ""
		switch askBox(agent.CallingTitle, agent.CallingText(techs)+"\n\n"+agent.Question(t)) {
		case idYes:
			answer = agent.AnswerConfirm
		case idNo:
			answer = agent.AnswerNotThePerson
		default:
			continue
		}
		res, err := u.tray.CheckTechnician(ctx, t.ID, answer)
		if err != nil {
			msgBox(agent.CallingTitle, "Your answer was not taken: "+err.Error())
			continue
		}
		msgBox(agent.CallingTitle, res)
		if answer == agent.AnswerNotThePerson {
			return // the MSP is alerted; the user is told to hang up
		}
	}
}

// MessageBox results (winuser.h); x/sys/windows names the MB_ flags only.
const (
	idYes = 6
	idNo  = 7
)

// askBox asks a Yes / No / Cancel question and returns the button pressed.
func askBox(title, text string) int32 {
	t, _ := windows.UTF16PtrFromString(title)
	m, _ := windows.UTF16PtrFromString(text)
	ret, _ := windows.MessageBox(0, m, t, windows.MB_YESNOCANCEL|windows.MB_ICONQUESTION|windows.MB_SETFOREGROUND)
	return ret
}

// ShowPrompt implements agent.UI.
func (u *trayUI) ShowPrompt(p agent.Prompt) {
	u.mu.Lock()
	u.shown = p.Choices
	u.mu.Unlock()
	for i, item := range u.choices {
		if i < len(p.Choices) {
			item.SetTitle("Pick " + p.Choices[i])
			item.Show()
		}
	}
	u.notMe.Show()
	systray.SetTooltip("Countersign: " + p.TechnicianName + " is verifying you")
	go msgBox("Countersign verification", fmt.Sprintf("%s from %s asks you to confirm it is you on the phone.\n\n"+
		"Click the Countersign icon and pick the number %s reads to you, or \"This is not me\" if you did not expect this.",
		p.TechnicianName, p.MSPName, p.TechnicianName))
}

// ClosePrompt implements agent.UI.
func (u *trayUI) ClosePrompt(result string) {
	for _, item := range u.choices {
		item.Hide()
	}
	u.notMe.Hide()
	systray.SetTooltip("Countersign")
	go msgBox("Countersign verification", result)
}

// SetStatus implements agent.UI.
func (u *trayUI) SetStatus(line string) { u.status.SetTitle(line) }

// Notify implements agent.UI.
func (u *trayUI) Notify(title, text string) { go msgBox(title, text) }

func msgBox(title, text string) {
	t, _ := windows.UTF16PtrFromString(title)
	m, _ := windows.UTF16PtrFromString(text)
	windows.MessageBox(0, m, t, windows.MB_OK|windows.MB_ICONINFORMATION|windows.MB_SETFOREGROUND)
}

// icon returns a 16×16 .ico (Windows needs .ico bytes, not PNG): a
// shield-blue square with a white tick.
func icon() []byte {
	const n = 16
	var px bytes.Buffer
	for y := n - 1; y >= 0; y-- { // bottom-up rows
		for x := 0; x < n; x++ {
			tick := (x >= 3 && x <= 6 && y == x+4) || (x >= 6 && x <= 12 && y == 16-x)
			if tick {
				px.Write([]byte{255, 255, 255, 255})
			} else {
				px.Write([]byte{0xC0, 0x6A, 0x1F, 255}) // BGRA
			}
		}
	}
	mask := make([]byte, n*4) // 1 bpp AND mask, rows padded to 32 bits
	var b bytes.Buffer
	le := func(v any) { _ = binary.Write(&b, binary.LittleEndian, v) }
	le(uint16(0))
	le(uint16(1)) // icon
	le(uint16(1)) // one image
	size := 40 + px.Len() + len(mask)
	b.Write([]byte{n, n, 0, 0})
	le(uint16(1))
	le(uint16(32))
	le(uint32(size))
	le(uint32(6 + 16))
	le(uint32(40))
	le(int32(n))
	le(int32(2 * n)) // XOR + AND heights
	le(uint16(1))
	le(uint16(32))
	le(uint32(0))
	le(uint32(px.Len() + len(mask)))
	le(int32(0))
	le(int32(0))
	le(uint32(0))
	le(uint32(0))
	b.Write(px.Bytes())
	b.Write(mask)
	return b.Bytes()
}

// Interface guard.
var _ agent.UI = (*trayUI)(nil)
