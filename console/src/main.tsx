import { render } from 'preact';
import './styles.css';
import { App } from './app';
import { loadMe } from './session';

void loadMe();
render(<App />, document.getElementById('app')!);
