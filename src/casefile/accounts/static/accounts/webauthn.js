// Security keys (WebAuthn): the registration and authentication ceremonies of the second-factor
// pages. A form with data-webauthn="register" or "authenticate" asks its data-options URL for
// the options, calls the browser, and posts the result to its data-verify URL. The server sends
// and expects binary fields as base64url (py_webauthn's JSON).
(() => {
  const decode = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/").padEnd(Math.ceil(text.length / 4) * 4, "=");
    return Uint8Array.from(atob(base64), (c) => c.charCodeAt(0)).buffer;
  };
  const encode = (buffer) => btoa(String.fromCharCode(...new Uint8Array(buffer)))
    .replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");

  const post = async (url, form, body) => {
    const response = await fetch(url, {
      method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json",
                "X-CSRFToken": form.querySelector("[name=csrfmiddlewaretoken]").value},
      body: body === undefined ? "{}" : JSON.stringify(body),
    });
    const data = await response.json();
    if (!response.ok) throw new Error(data.error ? data.error.message : `HTTP ${response.status}`);
    return data;
  };

  const register = async (form) => {
    const options = await post(form.dataset.options, form);
    options.challenge = decode(options.challenge);
    options.user.id = decode(options.user.id);
    options.excludeCredentials = (options.excludeCredentials || []).map((c) => ({...c, id: decode(c.id)}));
    const credential = await navigator.credentials.create({publicKey: options});
    const response = credential.response;
    return post(form.dataset.verify, form, {
      name: form.querySelector("[name=name]")?.value || "",
      credential: {
        id: credential.id, rawId: encode(credential.rawId), type: credential.type,
        authenticatorAttachment: credential.authenticatorAttachment,
        clientExtensionResults: credential.getClientExtensionResults(),
        response: {
          clientDataJSON: encode(response.clientDataJSON),
          attestationObject: encode(response.attestationObject),
          transports: response.getTransports ? response.getTransports() : [],
        },
      },
    });
  };

  const authenticate = async (form) => {
    const options = await post(form.dataset.options, form);
    options.challenge = decode(options.challenge);
    options.allowCredentials = (options.allowCredentials || []).map((c) => ({...c, id: decode(c.id)}));
    const credential = await navigator.credentials.get({publicKey: options});
    const response = credential.response;
    return post(form.dataset.verify, form, {
      credential: {
        id: credential.id, rawId: encode(credential.rawId), type: credential.type,
        authenticatorAttachment: credential.authenticatorAttachment,
        clientExtensionResults: credential.getClientExtensionResults(),
        response: {
          clientDataJSON: encode(response.clientDataJSON),
          authenticatorData: encode(response.authenticatorData),
          signature: encode(response.signature),
          userHandle: response.userHandle ? encode(response.userHandle) : null,
        },
      },
    });
  };

  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || !form.dataset.webauthn) return;
    event.preventDefault();
    const status = form.querySelector(".webauthn-result");
    if (!window.PublicKeyCredential) {
      status.textContent = "This browser does not support security keys.";
      return;
    }
    status.textContent = "Touch your security key…";
    try {
      const result = await (form.dataset.webauthn === "register" ? register(form) : authenticate(form));
      window.location.assign(result.next || "/");
    } catch (error) {
      status.className = "webauthn-result problem";
      status.textContent = error.message || String(error);
    }
  });
})();
