"""Two stacked LSTM cells learn to continue sine waves; trained with L-BFGS in float64."""
import argparse

import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim


def generate_sine_waves(n=100, length=1000, period=20):
    np.random.seed(2)
    x = np.empty((n, length), 'int64')
    x[:] = np.array(range(length)) + np.random.randint(-4 * period, 4 * period, n).reshape(n, 1)
    return np.sin(x / 1.0 / period).astype('float64')


class Sequence(nn.Module):
    def __init__(self, hidden=51):
        super(Sequence, self).__init__()
        self.hidden = hidden
        self.lstm1 = nn.LSTMCell(1, hidden)
        self.lstm2 = nn.LSTMCell(hidden, hidden)
        self.linear = nn.Linear(hidden, 1)

    def forward(self, input, future=0):
        outputs = []
        h_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        h_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)
        c_t2 = torch.zeros(input.size(0), self.hidden, dtype=torch.double)

        for input_t in input.split(1, dim=1):
            h_t, c_t = self.lstm1(input_t, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        for i in range(future):  # if we should predict the future
            h_t, c_t = self.lstm1(output, (h_t, c_t))
            h_t2, c_t2 = self.lstm2(h_t, (h_t2, c_t2))
            output = self.linear(h_t2)
            outputs += [output]
        outputs = torch.cat(outputs, dim=1)
        return outputs


if __name__ == '__main__':
    parser = argparse.ArgumentParser()
    parser.add_argument('--steps', type=int, default=15, help='steps to run')
    parser.add_argument('--waves', type=int, default=100)
    parser.add_argument('--length', type=int, default=1000)
    parser.add_argument('--hidden', type=int, default=51)
    parser.add_argument('--future', type=int, default=1000)
    parser.add_argument('--init-weights', type=str, default='',
                        help='a .npz of initial weights: loaded if it exists, else written')
    opt = parser.parse_args()
    # set random seed to 0
    np.random.seed(0)
    torch.manual_seed(0)
    # load data and make training set
    data = torch.from_numpy(generate_sine_waves(opt.waves, opt.length))
    test_count = max(1, opt.waves // 33)
    input = data[test_count:, :-1]
    target = data[test_count:, 1:]
    test_input = data[:test_count, :-1]
    test_target = data[:test_count, 1:]
    # build the model
    seq = Sequence(opt.hidden)
    seq.double()
    if opt.init_weights:
        try:
            weights = np.load(opt.init_weights)
            seq.load_state_dict({k: torch.from_numpy(weights[k]) for k in weights.files})
        except FileNotFoundError:
            np.savez(opt.init_weights, **{k: v.numpy() for k, v in seq.state_dict().items()})
    criterion = nn.MSELoss()
    # use LBFGS as optimizer since we can load the whole data to train
    optimizer = optim.LBFGS(seq.parameters(), lr=0.8)
    # begin to train
    for i in range(opt.steps):
        print('STEP: ', i)

        def closure():
            optimizer.zero_grad()
            out = seq(input)
            loss = criterion(out, target)
            print('loss:', loss.item())
            loss.backward()
            return loss
        optimizer.step(closure)
        # begin to predict, no need to track gradient here
        with torch.no_grad():
            future = opt.future
            pred = seq(test_input, future=future)
            loss = criterion(pred[:, :-future], test_target)
            print('test loss:', loss.item())
            y = pred.detach().numpy()
        print('predicted the next {} points of {} waves: {}'.format(future, y.shape[0],
                                                                     y.shape))
