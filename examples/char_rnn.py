"""A character-level LSTM language model that writes Shakespeare-like text as it learns.

The model reads a text one character at a time and, at every position, predicts the next
character. With xₜ the t-th character, eₜ = E[xₜ] its embedding (a learned row), an LSTM
carries a memory (hₜ, cₜ) along the text, and a linear layer turns hₜ into scores:

    (hₜ, cₜ) = LSTM(eₜ, (hₜ₋₁, cₜ₋₁))
    p(xₜ₊₁ = k | x₁ … xₜ) = softmax(W hₜ + b)ₖ
    loss = −(1/T) Σₜ log p(xₜ₊₁ | x₁ … xₜ)          (cross-entropy, in nats per character)

Truncated backpropagation through time: the text is cut into B parallel streams, and each
step trains on the next L characters of every stream. The LSTM state at the end of one
step is the starting state of the next (so the model can remember beyond L characters),
but it is *detached*: gradients flow back at most L characters, which keeps the graph,
memory and time of one step bounded. Gradients are clipped to a total norm of 5
(``nn.utils.clip_grad_norm_``), which keeps a rare large gradient from wrecking the
weights, and Adam does the update.

To write, the model is fed a prime text, then repeatedly samples the next character from
softmax(scores / τ) and feeds it back in. The temperature τ trades surprise for safety:
τ → 0 always picks the likeliest character (and soon loops), τ = 1 samples the model's
own distribution, larger τ flattens it towards noise.

Run it:

    python examples/char_rnn.py --quick                   # seconds, on the sonnets below
    python examples/char_rnn.py                           # a minute, on the sonnets below
    python examples/char_rnn.py --data ../shared/data/tinyshakespeare/input.txt   # 3 min

On Tiny Shakespeare (1.1 M characters, 2 epochs, 982 steps of 32 × 64 characters) the
validation loss reaches 1.62 nats per character in under 3 minutes on 2 CPU cores; the
samples have speakers' names, line breaks and mostly real words.

Without ``--data`` it trains on six of Shakespeare's sonnets shipped in this file (public
domain). It saves the loss curve (loss.png) and, after every epoch, samples at a few
temperatures (all in samples.txt).
"""
import argparse
import math
import os
import time

import matplotlib
matplotlib.use("Agg")   # no display needed: figures go straight to PNG files
import matplotlib.pyplot as plt
import numpy as np

import tapegrad as tg
from tapegrad import nn
from tapegrad.data import TextCorpus

# Sonnets 1, 18, 29, 73, 116 and 130 (William Shakespeare, 1609; public domain).
SONNETS = """\
From fairest creatures we desire increase,
That thereby beauty's rose might never die,
But as the riper should by time decease,
His tender heir might bear his memory:
But thou, contracted to thine own bright eyes,
Feed'st thy light's flame with self-substantial fuel,
Making a famine where abundance lies,
Thyself thy foe, to thy sweet self too cruel.
Thou that art now the world's fresh ornament
And only herald to the gaudy spring,
Within thine own bud buriest thy content
And, tender churl, makest waste in niggarding.
Pity the world, or else this glutton be,
To eat the world's due, by the grave and thee.

Shall I compare thee to a summer's day?
Thou art more lovely and more temperate:
Rough winds do shake the darling buds of May,
And summer's lease hath all too short a date;
Sometime too hot the eye of heaven shines,
And often is his gold complexion dimm'd;
And every fair from fair sometime declines,
By chance or nature's changing course untrimm'd;
But thy eternal summer shall not fade,
Nor lose possession of that fair thou ow'st;
Nor shall Death brag thou wander'st in his shade,
When in eternal lines to time thou grow'st:
So long as men can breathe or eyes can see,
So long lives this, and this gives life to thee.

When, in disgrace with fortune and men's eyes,
I all alone beweep my outcast state,
And trouble deaf heaven with my bootless cries,
And look upon myself and curse my fate,
Wishing me like to one more rich in hope,
Featured like him, like him with friends possess'd,
Desiring this man's art and that man's scope,
With what I most enjoy contented least;
Yet in these thoughts myself almost despising,
Haply I think on thee, and then my state,
Like to the lark at break of day arising
From sullen earth, sings hymns at heaven's gate;
For thy sweet love remember'd such wealth brings
That then I scorn to change my state with kings.

That time of year thou mayst in me behold
When yellow leaves, or none, or few, do hang
Upon those boughs which shake against the cold,
Bare ruin'd choirs, where late the sweet birds sang.
In me thou see'st the twilight of such day
As after sunset fadeth in the west,
Which by and by black night doth take away,
Death's second self, that seals up all in rest.
In me thou see'st the glowing of such fire
That on the ashes of his youth doth lie,
As the death-bed whereon it must expire,
Consumed with that which it was nourish'd by.
This thou perceivest, which makes thy love more strong,
To love that well which thou must leave ere long.

Let me not to the marriage of true minds
Admit impediments. Love is not love
Which alters when it alteration finds,
Or bends with the remover to remove:
O no! it is an ever-fixed mark
That looks on tempests and is never shaken;
It is the star to every wandering bark,
Whose worth's unknown, although his height be taken.
Love's not Time's fool, though rosy lips and cheeks
Within his bending sickle's compass come;
Love alters not with his brief hours and weeks,
But bears it out even to the edge of doom.
If this be error and upon me proved,
I never writ, nor no man ever loved.

My mistress' eyes are nothing like the sun;
Coral is far more red than her lips' red;
If snow be white, why then her breasts are dun;
If hairs be wires, black wires grow on her head.
I have seen roses damask'd, red and white,
But no such roses see I in her cheeks;
And in some perfumes is there more delight
Than in the breath that from my mistress reeks.
I love to hear her speak, yet well I know
That music hath a far more pleasing sound;
I grant I never saw a goddess go;
My mistress, when she walks, treads on the ground:
And yet, by heaven, I think my love as rare
As any she belied with false compare.
"""


class CharRNN(nn.Module):
    """characters → embedding → LSTM → linear scores for the next character."""

    def __init__(self, vocab_size, embed_size, hidden_size, num_layers):
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embed_size)
        self.lstm = nn.LSTM(embed_size, hidden_size, num_layers, batch_first=True)
        self.head = nn.Linear(hidden_size, vocab_size)

    def forward(self, x, state=None):
        """x: (B, L) character indices → scores (B, L, vocab), and the LSTM's last state."""
        out, state = self.lstm(self.embed(x), state)
        return self.head(out), state


def streams(data, n_streams):
    """Cut a 1-D tensor of T characters into n_streams rows of T // n_streams consecutive
    characters: row b continues from step to step, which is what lets the state carry."""
    length = len(data) // n_streams
    return data[:n_streams * length].reshape(n_streams, length)


def windows(rows, seq_len):
    """(inputs, targets) for each step: the next seq_len columns, and the same shifted by one."""
    for start in range(0, rows.shape[1] - 1, seq_len):
        stop = min(start + seq_len, rows.shape[1] - 1)
        yield rows[:, start:stop], rows[:, start + 1:stop + 1]


def detach(state):
    """Keep the values of the LSTM state but cut it from the graph (truncated BPTT)."""
    return tuple(s.detach() for s in state)


def evaluate(model, rows, seq_len, loss_fn):
    """Mean loss per character over the streams ``rows``, carrying the state, no gradients."""
    model.eval()
    total, count, state = 0.0, 0, None
    with tg.no_grad():
        for x, y in windows(rows, seq_len):
            scores, state = model(x, state)
            loss = loss_fn(scores.reshape(-1, scores.shape[-1]), y.reshape(-1))
            total += loss.item() * y.numel()     # the windows can differ in length: weigh them
            count += y.numel()
    model.train()
    return total / count


def sample(model, corpus, prime, length, temperature, rng):
    """Feed ``prime``, then draw ``length`` characters one at a time from softmax(scores / τ)."""
    model.eval()
    with tg.no_grad():
        x = corpus.encode(prime).reshape(1, -1)
        scores, state = model(x)                 # read the whole prime in one call
        chars = []
        for _ in range(length):
            p = (scores[0, -1] / temperature).softmax(-1).numpy().astype(np.float64)
            k = int(rng.choice(len(p), p=p / p.sum()))
            chars.append(k)
            scores, state = model(tg.tensor([[k]]), state)   # one character, carrying the state
    model.train()
    return prime + corpus.decode(chars)


def plot_losses(steps, losses, val_steps, val_losses, path):
    fig, ax = plt.subplots(figsize=(6.4, 3.8))
    ax.plot(steps, losses, color="tab:blue", alpha=0.25, linewidth=0.8, label="train (each step)")
    window = max(1, len(losses) // 40)   # a moving average shows the trend under the noise
    if len(losses) >= window:
        smooth = np.convolve(losses, np.ones(window) / window, mode="valid")
        ax.plot(steps[window - 1:], smooth, color="tab:blue", label=f"train ({window}-step mean)")
    ax.plot(val_steps, val_losses, "o-", color="tab:orange", label="validation")
    ax.set_xlabel("step")
    ax.set_ylabel("cross-entropy (nats per character)")
    ax.set_title("char-RNN: next-character loss")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", help="a text file (e.g. Tiny Shakespeare's input.txt); "
                                       "default: the sonnets in this file")
    parser.add_argument("--quick", action="store_true", help="a seconds-long smoke run")
    parser.add_argument("--out", default="out/char_rnn", help="folder for the figure and samples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, help="passes over the text "
                                                   "(default 2 with --data, else 50; quick 5)")
    parser.add_argument("--batch-size", type=int, help="parallel streams B (default 32 with "
                                                       "--data, else 16; quick 8)")
    parser.add_argument("--seq-len", type=int, help="BPTT length L (default 64; quick 32)")
    parser.add_argument("--hidden", type=int, help="LSTM hidden size (default 256; quick 64)")
    parser.add_argument("--layers", type=int, default=1, help="stacked LSTM layers")
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--clip", type=float, default=5.0, help="max total gradient norm")
    parser.add_argument("--sample-every", type=int, help="steps between printed samples "
                                                         "(default 200; quick 20)")
    parser.add_argument("--temperature", type=float, default=0.8, help="for printed samples")
    args = parser.parse_args()

    quick = args.quick
    epochs = args.epochs or (5 if quick else 2 if args.data else 50)
    batch_size = args.batch_size or (8 if quick else 32 if args.data else 16)
    seq_len = args.seq_len or (32 if quick else 64)
    hidden = args.hidden or (64 if quick else 256)
    sample_every = args.sample_every or (20 if quick else 200)
    os.makedirs(args.out, exist_ok=True)
    tg.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)      # for drawing characters when sampling

    # The text, its characters as integers, and a 90% / 10% train / validation split.
    corpus = TextCorpus(args.data or SONNETS, seq_len=seq_len)   # a path, or the text itself
    text = corpus.text
    train, val = corpus.split(0.9)
    train_rows = streams(train.data, batch_size)
    # The validation text is short: use fewer streams so that each is at least one window.
    val_rows = streams(val.data, max(1, min(batch_size, len(val.data) // (seq_len + 1))))
    prime = " ".join(text.lstrip().split("\n")[0].split()[:3])   # every sample starts so
    print(f"text: {len(text):,} characters ({args.data or 'the sonnets in this file'}), "
          f"vocabulary of {corpus.vocab_size}; {train_rows.shape[0]} streams of "
          f"{train_rows.shape[1]:,} characters, windows of {seq_len}")

    model = CharRNN(corpus.vocab_size, 64, hidden, args.layers)
    loss_fn = nn.CrossEntropyLoss()
    optimizer = tg.optim.Adam(model.parameters(), lr=args.lr)
    n_params = sum(p.numel() for p in model.parameters())
    print(f"model: Embedding({corpus.vocab_size}, 64) → LSTM(64, {hidden}, layers="
          f"{args.layers}) → Linear({hidden}, {corpus.vocab_size}); {n_params:,} parameters; "
          f"a uniform guess scores ln {corpus.vocab_size} = {math.log(corpus.vocab_size):.2f}")

    steps, losses, val_steps, val_losses = [], [], [], []
    samples_path = os.path.join(args.out, "samples.txt")
    with open(samples_path, "w", encoding="utf-8") as f:
        f.write(f"Samples after each epoch, each starting from the prime {prime!r}.\n")
    step, start = 0, time.time()
    for epoch in range(1, epochs + 1):
        state = None                          # each epoch starts from the beginning of the streams
        epoch_losses = []
        for x, y in windows(train_rows, seq_len):
            scores, state = model(x, state)
            state = detach(state)             # carry the values, not the graph
            loss = loss_fn(scores.reshape(-1, corpus.vocab_size), y.reshape(-1))
            optimizer.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), args.clip)
            optimizer.step()
            step += 1
            steps.append(step)
            losses.append(loss.item())
            epoch_losses.append(losses[-1])
            if step % sample_every == 0:       # a look at the validation loss, and a sample
                val_steps.append(step)
                val_losses.append(evaluate(model, val_rows, seq_len, loss_fn))
                print(f"\n--- step {step}: train loss {loss.item():.3f}, validation loss "
                      f"{val_losses[-1]:.3f}, {time.time() - start:.0f} s; a sample at "
                      f"τ = {args.temperature}:")
                print(sample(model, corpus, prime, 100 if quick else 200, args.temperature, rng))
        if val_steps[-1:] != [step]:
            val_steps.append(step)
            val_losses.append(evaluate(model, val_rows, seq_len, loss_fn))
        val_loss = val_losses[-1]
        print(f"\nepoch {epoch}/{epochs}: train loss {np.mean(epoch_losses):.3f} (epoch mean), "
              f"validation loss {val_loss:.3f} ({val_loss / math.log(2):.2f} bits/char), "
              f"{time.time() - start:.0f} s")
        # Samples at three temperatures, added to samples.txt after every epoch.
        with open(samples_path, "a", encoding="utf-8") as f:
            f.write(f"\n######## epoch {epoch}, step {step}, validation loss {val_loss:.3f}\n")
            for temperature in (0.5, 0.8, 1.0):
                f.write(f"\n=== temperature {temperature} ===\n")
                f.write(sample(model, corpus, prime, 100 if quick else 400, temperature, rng))
                f.write("\n")

    elapsed = time.time() - start
    final_train = float(np.mean(losses[-max(1, len(losses) // 10):]))
    print(f"\ndone: {step} steps in {elapsed:.0f} s; final train loss {final_train:.3f} "
          f"(mean of the last 10% of steps), final validation loss {val_losses[-1]:.3f}")
    loss_path = os.path.join(args.out, "loss.png")
    plot_losses(np.array(steps), np.array(losses), val_steps, val_losses, loss_path)
    print(f"saved {loss_path}")
    print(f"saved {samples_path}")


if __name__ == "__main__":
    main()
