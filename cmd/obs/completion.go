package main

import (
	"fmt"

	"github.com/urfave/cli/v2"
)

// The bash and zsh scripts ask obs itself for the candidates: urfave/cli
// answers a command line ending in --generate-bash-completion with the
// subcommands, or with the flags when the word being completed starts
// with a dash.
const bashCompletion = `# bash completion for obs. Load it with: source <(obs completion bash)
_obs_complete() {
  local cur="${COMP_WORDS[COMP_CWORD]}" opts
  local -a words=("${COMP_WORDS[@]:0:COMP_CWORD}")
  if [[ "$cur" == -* ]]; then
    opts=$("${words[@]}" "$cur" --generate-bash-completion 2>/dev/null)
  else
    opts=$("${words[@]}" --generate-bash-completion 2>/dev/null)
  fi
  COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -o bashdefault -o default -F _obs_complete obs
`

const zshCompletion = `#compdef obs
# zsh completion for obs. Install it with:
#   obs completion zsh > "${fpath[1]}/_obs"   (then start a new shell)
_obs() {
  local -a opts
  local cur=${words[CURRENT]}
  if [[ "$cur" == -* ]]; then
    opts=("${(@f)$(${words[1,CURRENT-1]} $cur --generate-bash-completion 2>/dev/null)}")
  else
    opts=("${(@f)$(${words[1,CURRENT-1]} --generate-bash-completion 2>/dev/null)}")
  fi
  if [[ -n "${opts[1]}" ]]; then
    _describe 'obs' opts
  else
    _files
  fi
}
if [[ "$funcstack[1]" == "_obs" ]]; then
  _obs "$@"
else
  compdef _obs obs
fi
`

func completionCommand() *cli.Command {
	script := func(name, usage string, body func(c *cli.Context) (string, error)) *cli.Command {
		return &cli.Command{
			Name:  name,
			Usage: usage,
			Action: func(c *cli.Context) error {
				s, err := body(c)
				if err != nil {
					return err
				}
				_, err = fmt.Fprint(c.App.Writer, s)
				return err
			},
		}
	}
	static := func(s string) func(*cli.Context) (string, error) {
		return func(*cli.Context) (string, error) { return s, nil }
	}
	return &cli.Command{
		Name:  "completion",
		Usage: "print a shell completion script (bash, zsh or fish)",
		Description: `Completes commands, subcommands and flags.

bash:  echo 'source <(obs completion bash)' >> ~/.bashrc
zsh:   obs completion zsh > "${fpath[1]}/_obs"
fish:  obs completion fish > ~/.config/fish/completions/obs.fish`,
		Subcommands: []*cli.Command{
			script("bash", "the bash script: source <(obs completion bash)", static(bashCompletion)),
			script("zsh", "the zsh script: obs completion zsh > \"${fpath[1]}/_obs\"", static(zshCompletion)),
			script("fish", "the fish script: obs completion fish > ~/.config/fish/completions/obs.fish",
				func(c *cli.Context) (string, error) { return c.App.ToFishCompletion() }),
		},
	}
}
