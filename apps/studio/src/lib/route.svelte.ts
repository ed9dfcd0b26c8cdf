// Hash routing (#/model, #/data, ...): works from any path on any static host, and survives a reload.

function read(): string {
  return decodeURIComponent(location.hash.replace(/^#\/?/, '').split('/')[0] ?? '');
}

class Route {
  current: string = $state(read());

  constructor() {
    addEventListener('hashchange', () => {
      this.current = read();
    });
  }

  go(id: string): void {
    if (read() !== id) location.hash = `#/${id}`;
    this.current = id;
  }
}

export const route = new Route();
