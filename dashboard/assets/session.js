/* sandtable: when the session has ended (logged out elsewhere, expired, account
   disabled), a callback gets 401: go to the login page, and come back here after. */
(function () {
    if (!window.fetch || window.__sandtableSession) { return; }
    window.__sandtableSession = true;
    var original = window.fetch;
    var leaving = false;
    window.fetch = function () {
        return original.apply(this, arguments).then(function (res) {
            if (res.status === 401 && !leaving && res.url.indexOf('/_dash-') !== -1) {
                leaving = true;
                var here = window.location.pathname + window.location.search;
                window.location.assign('/login?next=' + encodeURIComponent(here));
            }
            return res;
        });
    };
})();
